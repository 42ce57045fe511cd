"""Child training: fit loops, configs, and the paper's rewards."""

from .config import RewardConfig, TrainConfig
from .loops import History, accuracy, fit_image, fit_language, perplexity
from .reward import image_reward, language_reward

__all__ = ["History", "RewardConfig", "TrainConfig", "accuracy", "fit_image", "fit_language",
           "image_reward", "language_reward", "perplexity"]
