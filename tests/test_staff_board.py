"""What a region's demo staff entries say for the public staff board
(挂牌公示) and A/B posts is stored: hours on duty, the phone (encrypted
like every personal number) and which A post a B post covers."""
from __future__ import annotations

from core import personal
from core.demo import load_demo
from core.models import Staff


def test_demo_staff_keep_hours_phone_and_b_posts(make_app):
    app = make_app(plugins="wushen,bank_partnership,anyang")
    with app.app_context():
        load_demo(app.extensions["bangban"].pm, "Bangban@2026", county="410522")
        load_demo(app.extensions["bangban"].pm, "Bangban@2026", county="150626")
        agent = Staff.get(Staff.username == "galutu.agent")
        assert agent.profile["hours"].startswith("工作日")  # 乌审旗: agents posted with their hours
        assert agent.phone_enc and not agent.phone_enc.isdigit()
        assert personal.decrypt(agent.phone_enc, "staff.phone").isdigit()
        b_post = Staff.get(Staff.username == "anyang.baibi.agent2")
        assert b_post.covers.username == "anyang.baibi.agent1"  # 安阳: no empty window
        assert Staff.get(Staff.username == "anyang.baibi.agent3").covers.username == "anyang.baibi.agent2"
        assert Staff.get(Staff.username == "anyang.baibi.agent1").covers is None
        before = [(s.username, s.profile, s.phone_enc, s.covers_id) for s in Staff.select().order_by(Staff.id)]
        load_demo(app.extensions["bangban"].pm, "Bangban@2026", county="410522")  # again: nothing changes
        assert [(s.username, s.profile, s.phone_enc, s.covers_id) for s in Staff.select().order_by(Staff.id)] == before
