"""Where numba keeps the compiled kernels: a folder named by the digest of the sources they are compiled from.

numba checks a cached function against its own source file only (the file's modification time and size). The
kernels inline compiled functions of other modules (``fastmath``, ``blocks``, ``streams``) and freeze the
constants they read from the package (``nnqft.STREAM_VERSION``, ``nnqft.model.ACTIVATIONS``), so an edit of one of
those left a cached kernel stale: a run went on with the old arithmetic, saying nothing, until the kernel's own
file changed or the cache was cleared. The cache folder is therefore named by the digest of :data:`SOURCES`, every
file a compiled function can be built from: an edited package starts with a cold cache of its own, and returns to
its old one, still warm, when the edit is undone.

Importing this module sets ``numba.config.CACHE_DIR`` to :data:`FOLDER`; numba fixes a function's cache folder when
its ``@njit(cache=True)`` decorator runs, so each module that compiles with ``cache=True`` imports this module before
its decorators (tests/unit/sampling/test_kernel_cache.py checks it, and that an edit of a shared block takes). The
setting is numba's, for the whole process: another package's ``cache=True`` functions decorated after an nnqft import
are cached in this folder too, under their own source folder's name (numba's), apart from the kernels.

One limit: numba resets ``CACHE_DIR`` from the environment at the first compilation after a ``NUMBA_`` variable
changed, so a kernel module imported for the first time after that caches beside its source, keyed as numba keys it.
The rule scripts import their kernels before compiling anything; in a session of your own, set ``NUMBA_`` variables
before importing ``nnqft.sampling``. (Re-pointing the folder in every kernel module, a statement at each module's top,
would close it, but would enter the code digest of every sampling rule and so draw every sample of every config
again after the update.)

The folder is ``$NUMBA_CACHE_DIR/nnqft-<digest>`` where ``NUMBA_CACHE_DIR`` is set; else
``nnqft/__pycache__/numba-<digest>`` beside the package; else, for a package installed read-only,
``$XDG_CACHE_HOME/nnqft/numba-<digest>`` (``~/.cache`` by default). Each edit leaves its folder behind (a few MB):
``make clean-cache`` removes those beside the package (the others are ``rm -rf``'s to remove).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

PACKAGE = Path(__file__).resolve().parents[1]
#: The sources a compiled function can be built from, relative to the package: the sampling subpackage, where every
#: compiled function lives, and the package modules it imports at module level (their constants are frozen into
#: the machine code). tests/unit/sampling/test_kernel_cache.py checks that no compiling module imports another. The
#: subpackage's modules without compiled code are counted too: an edit of one costs a recompilation (about 45 s of
#: ``python -m nnqft.sampling.precompile`` on 2 cores), never a stale kernel.
SOURCES = ("sampling/*.py", "__init__.py", "model.py", "combos.py")


def source_digest(package: Path = PACKAGE) -> str:
    """The SHA-256 (16 hex digits) of the names and contents of the files of :data:`SOURCES` under ``package``."""
    digest = hashlib.sha256()
    for path in sorted({p for pattern in SOURCES for p in package.glob(pattern)}):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def folder(package: Path = PACKAGE, environ=os.environ) -> Path:
    """The cache folder of the kernels compiled from ``package`` (the module's docstring says which)."""
    digest = source_digest(package)
    if environ.get("NUMBA_CACHE_DIR"):
        return Path(environ["NUMBA_CACHE_DIR"]) / f"nnqft-{digest}"
    beside = package / "__pycache__"
    try:
        beside.mkdir(exist_ok=True)
        if os.access(beside, os.W_OK):
            return beside / f"numba-{digest}"
    except OSError:
        pass
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nnqft" / f"numba-{digest}"


#: The cache folder of this package's kernels (:func:`folder`).
FOLDER = folder()
numba.config.CACHE_DIR = str(FOLDER)
