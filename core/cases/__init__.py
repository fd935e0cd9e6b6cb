"""Cases: the commission, the five-step flow, deadlines, escalation, handover."""
