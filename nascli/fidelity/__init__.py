"""`nascli fidelity`: how well a search's scores rank its children once they are retrained stand-alone.

    run_study(run, FidelitySettings(...)) -> FidelityResult     saved in RUN/fidelity/
    kendall_tau, spearman_rho, bootstrap                          the statistics, pure Python
"""

from .stats import Interval, bootstrap, kendall_tau, spearman_rho
from .study import choose_children, run_study

__all__ = ["Interval", "bootstrap", "choose_children", "kendall_tau", "run_study", "spearman_rho"]
