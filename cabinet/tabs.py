"""Which tabs each role sees, in order. «Главная» comes first and
«Учётные записи» and «Техническая поддержка» last for every role."""

from dataclasses import dataclass

from django.urls import reverse

from accounts.logins import Role

from .models import Tab

# Material tabs beyond «Главная» and «Техническая поддержка».
ROLE_TABS = {
    Role.REGIONAL_VPR: [Tab.VPR, Tab.ANALYTICS],
    Role.MUNICIPAL_VPR: [Tab.VPR, Tab.ANALYTICS],
    Role.REGIONAL_NIKO: [Tab.NIKO, Tab.ANALYTICS],
    Role.REGIONAL_SPO: [Tab.SPO, Tab.ANALYTICS],
    Role.REGIONAL_KKO: [Tab.KKO, Tab.ANALYTICS],
    Role.SCHOOL: [Tab.VPR, Tab.KKO, Tab.ANALYTICS],
    Role.SCHOOL_NIKO: [Tab.NIKO],
}

ACCOUNTS = "accounts"


@dataclass(frozen=True)
class NavTab:
    slug: str
    label: str
    url: str


def material_tabs(role):
    return [Tab.HOME, *ROLE_TABS[Role(role)], Tab.SUPPORT]


def nav_tabs(role):
    role = Role(role)
    accounts_label = "Учётные записи" if role.is_regional or role == Role.MUNICIPAL_VPR else "Моя организация"
    tabs = [NavTab(Tab.HOME, Tab.HOME.label, reverse("cabinet:home"))]
    tabs += [NavTab(t, t.label, reverse("cabinet:tab", args=[t])) for t in ROLE_TABS[role]]
    tabs.append(NavTab(ACCOUNTS, accounts_label, reverse("cabinet:accounts")))
    tabs.append(NavTab(Tab.SUPPORT, Tab.SUPPORT.label, reverse("cabinet:support")))
    return tabs
