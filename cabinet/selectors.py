from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from accounts.logins import Role
from accounts.models import Municipality, School, User

from .models import Material

SCHOOL_ROLES = [Role.SCHOOL, Role.SCHOOL_NIKO]


def accounts_visible_to(user):
    """The cabinet accounts ``user`` may see, each with ``organization_name``.

    A regional coordinator sees every school and municipal login of the
    region; a municipal coordinator the schools of the municipality (by the
    school directory) and its own municipal logins; a school only itself. The
    organization's name is looked up by the codes in the login, so accounts
    created in the admin, imported or by ``create_user`` are all listed.
    """
    accounts = User.objects.filter(region_id=user.region_id, is_staff=False)
    role = Role(user.role)
    if role.is_regional:
        accounts = accounts.filter(role__in=[*SCHOOL_ROLES, Role.MUNICIPAL_VPR])
    elif role == Role.MUNICIPAL_VPR:
        schools = School.objects.filter(
            region_id=user.region_id,
            municipality__region_id=user.region_id,
            municipality__code=user.municipality_code,
        ).values("code")
        accounts = accounts.filter(
            Q(role=Role.MUNICIPAL_VPR, municipality_code=user.municipality_code)
            | Q(role__in=SCHOOL_ROLES, school_code__in=schools)
        )
    else:
        accounts = accounts.filter(pk=user.pk)

    # order_by(): the codes are unique, and the models' default ordering would join the regions.
    school_name = (
        School.objects.filter(region_id=OuterRef("region_id"), code=OuterRef("school_code"))
        .order_by()
        .values("name")[:1]
    )
    municipality_name = (
        Municipality.objects.filter(region_id=OuterRef("region_id"), code=OuterRef("municipality_code"))
        .order_by()
        .values("name")[:1]
    )
    return accounts.annotate(
        organization_name=Coalesce(Subquery(school_name), Subquery(municipality_name))
    ).order_by("username")


def search_accounts(accounts, query):
    query = query.strip()
    if not query:
        return accounts
    return accounts.filter(Q(username__icontains=query) | Q(organization_name__icontains=query))


def materials_for_tab(user, tab):
    return Material.objects.visible_to(user).filter(tab=tab).prefetch_related("files")
