"""The core's entries in the registries: the glossary's intake channels,
site kinds, and the languages Chinese and English (Mongolian comes from its
own plugin)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..hookspecs import hookimpl

TOWNSHIP = ("service_center",)
VILLAGE = ("service_station", "service_point")


@hookimpl
def register_intake_channels(register):
    register("window", label=_l("Window"), site_kinds=(*TOWNSHIP, *VILLAGE))
    register("comprehensive_window", label=_l("Comprehensive window"), site_kinds=TOWNSHIP)
    register("post", label=_l("Post office"), site_kinds=("post_office",))
    register("mobile", label=_l("Mobile app"))
    register("online", label=_l("Online"))
    register("phone", label=_l("Telephone"))
    register("home_visit", label=_l("Home visit"))


@hookimpl
def register_site_kinds(register):
    register("service_center", label=_l("Service center"), level="township")
    register("service_station", label=_l("Service station"), level="village")
    register("service_point", label=_l("Service point"), level="village")
    register("post_office", label=_l("Post office"), level="partner")


@hookimpl
def register_languages(register):
    register("zh_Hans_CN", name="中文", direction="ltr", script="Hans", font_css=None,
             month_names=[f"{m}月" for m in range(1, 13)],
             weekday_names=["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"],
             date_format="yyyy年M月d日")
    register("en", name="English", direction="ltr", script="Latn", font_css=None,
             month_names=["January", "February", "March", "April", "May", "June", "July", "August",
                          "September", "October", "November", "December"],
             weekday_names=["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
             date_format="d MMMM yyyy")
