"""`nascli compare`: strategies against each other, N seeded runs each, at one budget.

    ComparisonPlan (plan.py)   the comparison folder and its run folders
    complete (runner.py)       run what the folder lacks, in parallel processes
    compare_table (summary.py) per strategy: mean, std, 95% CI, p against random (stats.py)
    plot_anytime (plot.py)     best so far against the (simulated) clock
"""

from .plan import ComparisonPlan, default_folder
from .plot import plot_anytime
from .runner import complete
from .summary import CompareTable, compare_table

__all__ = ["CompareTable", "ComparisonPlan", "compare_table", "complete", "default_folder", "plot_anytime"]
