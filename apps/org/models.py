"""Departments (a tree kept as a materialised path), posts, and the data scope of a role."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

PATH_SEPARATOR = "/"


class Department(models.Model):
    """A node of the organisation tree.

    `path` is the ids from the root down to this node, e.g. "/1/4/9/": "this department and below" is one
    indexed prefix match, and a move rewrites the subtree's paths in one UPDATE (readers see the old or the new
    tree, never a mix). Services keep it right; nobody edits it by hand.
    """

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("parent")
    )
    name = models.CharField(_("name"), max_length=150)
    code = models.CharField(_("code"), max_length=64, unique=True)
    order = models.IntegerField(_("order"), default=0)
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_departments",
        verbose_name=_("leader"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    path = models.CharField(max_length=1024, db_index=True, editable=False, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("path",)
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return max(self.path.count(PATH_SEPARATOR) - 2, 0)


class Post(models.Model):
    """A position (post) users hold; a user holds any number of them."""

    name = models.CharField(_("name"), max_length=150)
    code = models.CharField(_("code"), max_length=64, unique=True)
    order = models.IntegerField(_("order"), default=0)
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="posts", verbose_name=_("holders")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("order", "code")
        verbose_name = _("post")
        verbose_name_plural = _("posts")

    def __str__(self) -> str:
        return self.name


class DataScope(models.TextChoices):
    ALL = "all", _("All data")
    DEPARTMENT_AND_BELOW = "department_and_below", _("Own department and below")
    DEPARTMENT = "department", _("Own department only")
    SELF = "self", _("Own data only")
    CUSTOM = "custom", _("Chosen departments")


class RoleScope(models.Model):
    """The data scope of a role. A role without a row has the scope `all` (what roles had before scopes)."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, primary_key=True, related_name="data_scope")
    scope = models.CharField(_("data scope"), max_length=32, choices=DataScope.choices, default=DataScope.ALL)
    departments = models.ManyToManyField(
        Department, blank=True, related_name="scoped_roles", verbose_name=_("chosen departments")
    )

    class Meta:
        verbose_name = _("data scope")
        verbose_name_plural = _("data scopes")

    def __str__(self) -> str:
        return f"{self.group_id}: {self.scope}"
