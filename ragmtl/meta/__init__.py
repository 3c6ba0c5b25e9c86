"""Gradient-based meta-learning with ``torch.func``: MAML, first-order MAML, Meta-SGD and Reptile,
task samplers (N-way K-shot episodes, sinusoids), evaluation over episodes, and a
retrieval-augmented few-shot classifier. The home package of the book's MAML chapter.

Modules: ``inner`` (the inner loop), ``maml`` (meta-gradients), ``reptile``, ``baselines`` (joint
pre-training, head swapping), ``samplers``, ``train`` (the meta-training loop), ``evaluate``,
``retrieval``, ``models``, ``domains`` (meta-train/meta-test pools split by domain), ``selection``
(validation domains carved from meta-training, the pick of a setting).
"""
from .baselines import joint_grad, pretrain_classifier, with_new_head
from .domains import DomainSplit, domain_split
from .evaluate import adapt_and_predict, adaptation_curve, episode_accuracy, episode_mse, mean_ci
from .inner import Params, adapt, detached, functional_loss, init_params, sgd_step
from .maml import MetaGrad, fomaml_grad, maml_grad, maml_query_loss
from .models import MLP
from .reptile import reptile_grad, reptile_update
from .retrieval import RetrievalConfig, RetrievalFewShotClassifier, retrieval_fused_probs
from .selection import best_setting, validation_domains
from .samplers import EpisodeSampler, SinusoidTasks, TaskBatch, check_disjoint_classes
from .train import METHODS, MetaTrainConfig, MetaTrainResult, meta_train

__all__ = [
    "DomainSplit", "domain_split", "joint_grad", "pretrain_classifier", "with_new_head", "adapt_and_predict", "adaptation_curve", "episode_accuracy",
    "episode_mse", "mean_ci", "Params", "adapt", "detached", "functional_loss", "init_params", "sgd_step",
    "MetaGrad", "fomaml_grad", "maml_grad", "maml_query_loss", "MLP", "reptile_grad", "reptile_update",
    "RetrievalConfig", "RetrievalFewShotClassifier", "retrieval_fused_probs", "EpisodeSampler",
    "SinusoidTasks", "TaskBatch", "check_disjoint_classes", "METHODS", "MetaTrainConfig",
    "MetaTrainResult", "meta_train", "best_setting", "validation_domains",
]
