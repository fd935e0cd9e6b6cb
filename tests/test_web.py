"""Pages, languages, sign-in and CSRF through real HTTP requests."""
import re


from core.models import AuditEntry
from tests.helpers import csrf_token, sign_in



def test_home_is_chinese_by_default(client):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-Hans-CN"' in html
    assert "帮办" in html and "办事指南" in html
    assert 'class="wm-horizontal-tb"' in html


def test_language_by_query_then_remembered(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en"' in html and "Service guides" in html
    html = client.get("/").get_data(as_text=True)  # remembered in the session
    assert '<html lang="en"' in html


def test_language_from_accept_language(client):
    html = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en"' in html
    html = client.get("/", headers={"Accept-Language": "mn"}).get_data(as_text=True)
    assert '<html lang="mn-Mong-CN"' in html


def test_mongolian_pages_are_laid_out_vertically(client):
    html = client.get("/?lang=mn_Mong_CN").get_data(as_text=True)
    assert 'class="wm-vertical-lr"' in html
    assert "ᠮᠣᠩᠭᠣᠯ" in html
    for path in ("/guides", "/-/plugins", "/sign-in"):
        assert 'class="wm-vertical-lr"' in client.get(path).get_data(as_text=True)


def test_guides_list_and_detail(demo_app):
    client = demo_app.test_client()
    html = client.get("/guides?level=village&lang=zh_Hans_CN").get_data(as_text=True)
    count = int(re.search(r"(\d+) 个事项", html).group(1))
    assert count >= 50
    html = client.get("/guides?q=残疾人证").get_data(as_text=True)
    code = re.search(r'href="/guides/([^"]+)"', html).group(1)
    detail = client.get(f"/guides/{code}").get_data(as_text=True)
    assert "申请材料" in detail
    materials = detail[detail.index("申请材料"):detail.index("承诺办结时限")]  # the materials section
    assert "居民身份证和居民户口簿" in materials and "残疾人证申请表" in materials
    assert client.get("/guides/no-such-item").status_code == 404


def test_bank_partnership_page(demo_app):
    html = demo_app.test_client().get("/bank/?lang=zh_Hans_CN").get_data(as_text=True)
    assert "支行" in html  # a partner branch from the demo sites
    assert html.count('href="/guides/') >= 3


def test_sign_in_and_out_with_demo_login(demo_app):
    client = demo_app.test_client()
    response = sign_in(client, "county.admin")
    assert response.status_code == 302
    assert "韩志刚" in client.get("/").get_data(as_text=True)
    assert client.get("/admin/").status_code == 200
    token = csrf_token(client, "/")
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_non_admin_cannot_open_back_office(demo_app):
    client = demo_app.test_client()
    sign_in(client, "galutu.agent")
    assert client.get("/admin/").status_code == 403


def test_wrong_password_is_refused_and_audited(demo_app):
    client = demo_app.test_client()
    response = sign_in(client, "county.admin", "wrong-password")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    sign_in(client, "county.admin")
    with demo_app.app_context():
        actions = [(e.action, e.actor) for e in AuditEntry.select().where(AuditEntry.action.startswith("auth."))]
    assert actions == [("auth.sign_in_failed", "county.admin"), ("auth.sign_in", "county.admin")]


def test_post_without_csrf_token_is_refused(demo_app):
    client = demo_app.test_client()
    response = client.post("/sign-in", data={"username": "county.admin", "password": "Bangban@2026"})
    assert response.status_code == 400
    with demo_app.app_context():
        assert AuditEntry.select().where(AuditEntry.action.startswith("auth.")).count() == 0


def test_static_assets_are_local(client):
    html = client.get("/").get_data(as_text=True)
    assert "http://" not in html.replace("http://localhost", "") and "https://" not in html
    assert client.get("/static/bangban.css").status_code == 200


def test_language_kept_with_the_account(demo_app):
    from core.models import Staff

    client = demo_app.test_client()
    sign_in(client, "galutu.agent")
    token = csrf_token(client, "/account")
    client.post("/account/language", data={"csrf_token": token, "locale": "mn_Mong_CN"})
    with demo_app.app_context():
        assert Staff.get(Staff.username == "galutu.agent").locale == "mn_Mong_CN"
    again = demo_app.test_client()  # a new session on another day: the account's language applies
    sign_in(again, "galutu.agent")
    assert 'class="wm-vertical-lr"' in again.get("/").get_data(as_text=True)
