"""The public tracking page finds a case only by its receipt's token or by
the receipt number with the last four digits of the applicant's phone,
through real HTTP requests, on SQLite and PostgreSQL."""
import datetime
import re

from playhouse.migrations import Runner

from core import db as dbmod
from core.cases import service
from core.cases.models import Case, CaseCounter
from tests.helpers import sign_in

MIGRATION = "0008_case_counter_track_token"


def page_token(client, path="/track"):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def demo_case(app):
    """A demo case, its masked applicant name, its phone's last four digits."""
    with app.app_context():
        case = Case.select().order_by(Case.id).first()
        return case, case.applicant_name[:1] + "*", case.phone()[-4:]


def shows_case(html, case):
    return 'id="track-state"' in html or case.applicant_name[:1] + "*" in html


def test_a_guessed_number_alone_shows_nothing_of_the_case(demo_app):
    client = demo_app.test_client()
    case, masked, _digits = demo_case(demo_app)
    prefix = case.number.rsplit("-", 1)[0]
    for n in range(1, 21):  # the enumeration of the trust issue
        response = client.get(f"/track/{prefix}-{n:04d}?lang=en")
        html = response.get_data(as_text=True)
        assert response.status_code == 200, n
        assert 'id="track-state"' not in html and masked not in html and "Last four digits" in html, n
    token = page_token(client)
    response = client.post("/track?lang=en", data={"number": case.number, "csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and not shows_case(html, case)
    assert "last four digits of the applicant&#39;s phone" in html


def test_the_number_with_the_right_digits_shows_the_case(demo_app):
    client = demo_app.test_client()
    case, masked, digits = demo_case(demo_app)
    response = client.post("/track?lang=zh_Hans_CN", data={"number": case.number, "phone_digits": digits,
                                                          "csrf_token": page_token(client)})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="track-state"' in html and masked in html and case.applicant_name not in html
    assert "提出申请" in html  # the timeline


def test_wrong_digits_answer_exactly_like_an_unknown_number(demo_app):
    client = demo_app.test_client()
    case, masked, digits = demo_case(demo_app)
    wrong = f"{(int(digits) + 1) % 10000:04d}"
    unknown = case.number.rsplit("-", 1)[0] + "-9999"
    answers = []
    for number, given in ((case.number, wrong), (unknown, digits)):
        response = client.post("/track?lang=en", data={"number": number, "phone_digits": given,
                                                       "csrf_token": page_token(client)})
        html = response.get_data(as_text=True)
        assert not shows_case(html, case)
        error = re.search(r'id="track-error"[^>]*>([^<]*)<', html).group(1)
        answers.append((response.status_code, error.replace(number, "N")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 404 and "No case matches receipt number N" in answers[0][1]


def test_the_receipt_qr_link_shows_the_case_and_a_wrong_token_is_404(demo_app):
    agent = demo_app.test_client()
    assert sign_in(agent, "galutu.agent").status_code == 302
    case, masked, _digits = demo_case(demo_app)
    receipt = agent.get(f"/cases/{case.id}/receipt").get_data(as_text=True)
    link = re.search(r"http://localhost(/track/t/([A-Za-z0-9_-]+))", receipt)
    assert link and link.group(2) == case.track_token and len(case.track_token) >= 22
    assert case.number not in link.group(1)
    public = demo_app.test_client()
    response = public.get(link.group(1))
    assert response.status_code == 200 and masked in response.get_data(as_text=True)
    for wrong in ("A" * 22, case.track_token[:-1] + ("A" if case.track_token[-1] != "A" else "B"), "x"):
        response = public.get(f"/track/t/{wrong}")
        html = response.get_data(as_text=True)
        assert response.status_code == 404 and not shows_case(html, case), wrong


def test_every_case_has_its_own_token(demo_app):
    with demo_app.app_context():
        tokens = [c.track_token for c in Case.select(Case.track_token)]
    assert len(tokens) >= 10 and len(set(tokens)) == len(tokens) and all(tokens)


def test_lookups_by_number_are_rate_limited(demo_app):
    client = demo_app.test_client()
    case, _masked, digits = demo_case(demo_app)
    token = page_token(client)  # the first request of 30 per minute
    codes = [client.post("/track", data={"number": case.number, "phone_digits": "0000" if digits != "0000" else "1111",
                                         "csrf_token": token}).status_code for _ in range(30)]
    # five failures lock the receipt number (TRACK_RECEIPT_LIMIT); the 31st request passes 30 a minute
    assert codes == [404] * 5 + [429] * 25
    assert client.get("/track").status_code == 429


def test_the_migration_gives_existing_cases_tokens_and_continues_their_numbers(demo_app):
    """Down to 0007 (cases without tokens or counters), up again: each case
    gets a token and the next case follows the highest existing number."""
    with demo_app.app_context():
        runner = Runner(dbmod.proxy.obj, str(dbmod.MIGRATIONS))
        reverted = []
        while MIGRATION not in reverted:  # the later migrations first, then this one
            reverted += runner.down()
        columns = {c.name for c in dbmod.proxy.obj.get_columns("cases")}
        assert "track_token" not in columns and not CaseCounter.table_exists()
        numbers = [c.number for c in Case.select(Case.number).order_by(Case.id)]
        assert runner.up()[0] == MIGRATION
        tokens = [c.track_token for c in Case.select(Case.track_token)]
        assert len(set(tokens)) == len(tokens) == len(numbers) and all(len(t) >= 22 for t in tokens)
        county, day, seq = max(numbers).split("-")
        with dbmod.transaction():
            number = service.next_number(county, datetime.date(int(day[:4]), int(day[4:6]), int(day[6:])))
        assert number == f"{county}-{day}-{int(seq) + 1:04d}"
