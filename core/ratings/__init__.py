"""好差评 (ratings): the five-level rating of a case per stage, and the
handling chain of a 差评 (核实 → 整改 | 申诉 → 回访). See
:mod:`core.ratings.service` for the rules and :mod:`core.builtins.ratings`
for how it plugs in."""
