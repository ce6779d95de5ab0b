from django.db import models
from django.utils import timezone


class Tab(models.TextChoices):
    HOME = "home", "Главная"
    VPR = "vpr", "Ход ВПР"
    NIKO = "niko", "НИКО"
    SPO = "spo", "СПО"
    KKO = "kko", "ФГККО"
    ANALYTICS = "analytics", "Аналитика"
    SUPPORT = "support", "Техническая поддержка"


class MaterialQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Published materials targeted at the user's role and region.

        An empty role or region list means «everyone».
        """
        return (
            self.filter(is_published=True, published_at__lte=timezone.now())
            .filter(models.Q(roles=None) | models.Q(roles=user.role))
            .filter(models.Q(regions=None) | models.Q(regions=user.region_id))
            .distinct()
        )


class Material(models.Model):
    tab = models.CharField("вкладка", max_length=20, choices=Tab.choices, default=Tab.HOME)
    title = models.CharField("заголовок", max_length=300)
    text = models.TextField("текст", blank=True)
    published_at = models.DateTimeField("дата публикации", default=timezone.now, db_index=True)
    is_published = models.BooleanField("опубликован", default=True)
    roles = models.ManyToManyField(
        "accounts.Role",
        blank=True,
        verbose_name="роли",
        help_text="Кому показывать. Пусто — всем, кому доступна вкладка.",
    )
    regions = models.ManyToManyField(
        "accounts.Region",
        blank=True,
        verbose_name="субъекты РФ",
        help_text="Пусто — всем регионам.",
    )

    objects = MaterialQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-pk"]
        verbose_name = "материал"
        verbose_name_plural = "материалы"

    def __str__(self):
        return self.title


class MaterialFile(models.Model):
    material = models.ForeignKey(Material, models.CASCADE, related_name="files")
    file = models.FileField("файл", upload_to="materials/%Y/%m/")
    title = models.CharField("название", max_length=300, blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = "файл материала"
        verbose_name_plural = "файлы материала"

    def __str__(self):
        return self.display_name

    @property
    def filename(self):
        return self.file.name.rsplit("/", 1)[-1]

    @property
    def display_name(self):
        return self.title or self.filename
