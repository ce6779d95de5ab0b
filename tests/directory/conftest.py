import io

import pytest
import xlsxwriter

HEADER = ["Код региона", "Код муниципалитета", "Муниципалитет", "Код ОО", "Наименование ОО", "НИКО"]
ROWS = [
    ["77", "003", "Центральный округ", "1234", "ГБОУ «Школа № 1234»", "да"],
    ["77", "003", "Центральный округ", "5601", "ГБОУ «Гимназия № 56»", "нет"],
    ["50", "012", "Городской округ Химки", "0042", "МБОУ СОШ № 42", "нет"],
]


def csv_bytes(rows=ROWS, header=HEADER, delimiter=";", encoding="utf-8"):
    text = "\n".join(delimiter.join(cells) for cells in [header, *rows]) + "\n"
    return text.encode(encoding, errors="replace")


def xlsx_bytes(rows=ROWS, header=HEADER):
    output = io.BytesIO()
    workbook = xlsxwriter.Workbook(output, {"in_memory": True})
    sheet = workbook.add_worksheet()
    for index, cells in enumerate([header, *rows]):
        sheet.write_row(index, 0, cells)
    workbook.close()
    return output.getvalue()


@pytest.fixture
def directory_file(tmp_path):
    def make(data, name="справочник.csv"):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return make
