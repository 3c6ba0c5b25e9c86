"""Sharing a model and its indexes: safetensors weights, a JSON config, checksummed files, a model card.

``save_pretrained(directory, model, config)`` writes ``model.safetensors``, ``config.json`` and a
``manifest.json`` of sha256s; ``load_pretrained(directory, build, ConfigClass)`` checks every file,
rebuilds the model from its config and loads the weights, never unpickling anything. Retrieval
indexes go alongside with ``save_index`` / ``load_index`` (a FAISS file, or a rebuild recipe for
BM25/TF-IDF), and ``write_model_card`` adds a ``README.md`` whose training data, licences and file
checksums come from the manifests, not from hand-typed text. Every write is atomic and a saved
folder is built whole and swapped in (:mod:`ragmtl.sharing.files`); symbolic links inside a saved
folder are refused; each failure family has its own error type (:mod:`ragmtl.sharing.errors`).
"""
from .card import CARD_NAME, ModelCardInfo, dataset_sources, model_card, results_table, write_model_card
from .config_io import check_round_trip, config_from_dict, config_to_dict
from .errors import (ChecksumError, ConfigMismatchError, ConfigTypeError, CorruptFileError, FormatVersionError,
                     MissingFileError, UnsafePathError, WeightsMismatchError)
from .files import atomic_write, check_inside, check_plain_name, read_json, staged_folder
from .indexes import FAISS_NAME, INDEX_RECIPE_NAME, INDEX_VERSION, load_index, save_index
from .manifest import (MANIFEST_NAME, MANIFEST_VERSION, FileEntry, hash_files, read_manifest, update_manifest,
                       verify_manifest, write_manifest)
from .pretrained import (CONFIG_NAME, CONFIG_VERSION, WEIGHTS_NAME, load_pretrained, load_weights, read_config,
                         save_pretrained)
from .recipes import (CORPUS_BUILDERS, SPARSE_KINDS, CorpusBuilder, rebuild_sparse, resolve_corpus,
                      sparse_recipe, texts_sha256, tokens_sha256)
from .weights import (KeyFilter, canonical_safetensors, check_shapes, load_safetensors_into, read_shapes,
                      select_state, trainable_keys, write_safetensors)

__all__ = [
    "CARD_NAME", "ModelCardInfo", "dataset_sources", "model_card", "results_table", "write_model_card",
    "check_round_trip", "config_from_dict", "config_to_dict",
    "ChecksumError", "ConfigMismatchError", "ConfigTypeError", "CorruptFileError", "FormatVersionError",
    "MissingFileError", "UnsafePathError", "WeightsMismatchError",
    "atomic_write", "check_inside", "check_plain_name", "read_json", "staged_folder",
    "FAISS_NAME", "INDEX_RECIPE_NAME", "INDEX_VERSION", "load_index", "save_index",
    "MANIFEST_NAME", "MANIFEST_VERSION", "FileEntry", "hash_files", "read_manifest", "update_manifest",
    "verify_manifest", "write_manifest",
    "CONFIG_NAME", "CONFIG_VERSION", "WEIGHTS_NAME", "load_pretrained", "load_weights", "read_config",
    "save_pretrained",
    "CORPUS_BUILDERS", "SPARSE_KINDS", "CorpusBuilder", "rebuild_sparse", "resolve_corpus", "sparse_recipe",
    "texts_sha256", "tokens_sha256",
    "KeyFilter", "canonical_safetensors", "check_shapes", "load_safetensors_into", "read_shapes", "select_state", "trainable_keys",
    "write_safetensors",
]
