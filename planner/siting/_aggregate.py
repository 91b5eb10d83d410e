"""Coverage matrices and exact grouping of identical demand rows.

A million demand points against a thousand sites is a sparse matrix of about 10^8 stored
entries. Whole-matrix numpy temporaries at that size (an int64 index per entry is 0.9 GB)
cost more in page faults than in arithmetic: the first version spent 20 s here. The
functions below therefore walk the rows in chunks of about a million entries, so every
temporary stays small and is reused, and they skip copies when the input already has the
needed form.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import sparse

logger = logging.getLogger(__name__)

CHUNK_NNZ = 1 << 20  # entries per chunk: temporaries of a few MB stay in cache


def coverage_matrix(cost, threshold: float) -> sparse.csr_matrix:
    """Boolean CSR ``a_ij = cost_ij <= threshold`` (sparse input: stored entries only)."""
    if sparse.issparse(cost):
        mat = cost.tocsr()
        keep = mat.data <= threshold
        if keep.all():  # the usual case: travel times were computed with this cutoff
            return sparse.csr_matrix(
                (np.ones(mat.nnz, dtype=bool), mat.indices, mat.indptr), shape=mat.shape
            )
        counts = np.add.reduceat(keep, mat.indptr[:-1]) if mat.nnz else np.zeros(mat.shape[0], int)
        counts = np.where(np.diff(mat.indptr) > 0, counts, 0)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return sparse.csr_matrix(
            (np.ones(int(keep.sum()), dtype=bool), mat.indices[keep], indptr), shape=mat.shape
        )
    rows, cols = np.nonzero(cost <= threshold)
    return sparse.csr_matrix((np.ones(rows.size, dtype=bool), (rows, cols)), shape=cost.shape)


def _row_chunks(indptr: np.ndarray, chunk_nnz: int):
    """Yield ``(r0, r1)`` row ranges holding about ``chunk_nnz`` entries each."""
    n = indptr.size - 1
    r0 = 0
    while r0 < n:
        r1 = int(np.searchsorted(indptr, indptr[r0] + chunk_nnz, side="right")) - 1
        r1 = min(n, max(r1, r0 + 1))
        yield r0, r1
        r0 = r1


def _row_hashes(mat: sparse.csr_matrix, chunk_nnz: int) -> np.ndarray:
    """A random 64-bit sum over each row's column indices (wrapping), mixed with its length."""
    n, m = mat.shape
    rng = np.random.default_rng(0x5EED)
    rnd = rng.integers(0, 2**63, size=m, dtype=np.uint64)
    h = np.diff(mat.indptr).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    indptr, indices = mat.indptr, mat.indices
    with np.errstate(over="ignore"):
        for r0, r1 in _row_chunks(indptr, chunk_nnz):
            a, b = int(indptr[r0]), int(indptr[r1])
            if a == b:
                continue
            lens = np.diff(indptr[r0 : r1 + 1])
            nz = np.flatnonzero(lens > 0)
            starts = (indptr[r0:r1][nz] - a).astype(np.int64)
            h[r0 + nz] += np.add.reduceat(rnd[indices[a:b]], starts)
    return h


def _rows_differing_from(mat: sparse.csr_matrix, rep_of: np.ndarray, chunk_nnz: int) -> np.ndarray:
    """Rows whose column pattern differs from the pattern of row ``rep_of[row]``."""
    indptr, indices = mat.indptr.astype(np.int64, copy=False), mat.indices
    lengths = np.diff(indptr)
    other_len = lengths[rep_of] != lengths
    bad: list[np.ndarray] = [np.flatnonzero(other_len)]
    for r0, r1 in _row_chunks(indptr, chunk_nnz):
        a, b = int(indptr[r0]), int(indptr[r1])
        if a == b:
            continue
        # rows of another length are already listed: compare them with themselves
        shift = np.where(other_len[r0:r1], 0, indptr[rep_of[r0:r1]] - indptr[r0:r1])
        if not shift.any():
            continue  # every row of the chunk is its own representative
        idx = np.arange(a, b, dtype=np.int64)
        idx += np.repeat(shift, lengths[r0:r1])
        diff = indices[idx] != indices[a:b]
        if diff.any():
            bad.append(np.unique(np.repeat(np.arange(r0, r1), lengths[r0:r1])[diff]))
    return np.unique(np.concatenate(bad))


def group_identical_rows(
    mat: sparse.csr_matrix, *, chunk_nnz: int = CHUNK_NNZ
) -> tuple[np.ndarray, np.ndarray]:
    """Group rows with identical sparsity pattern (exactly).

    Rows are hashed by a random 64-bit sum over their column indices mixed with their
    length, grouped, and every member is then compared with its group's representative
    (length, then element by element); a hash collision splits the group, so the result is
    exact whatever the hash does.

    Returns
    -------
    rep : numpy.ndarray
        Row index of one representative per group.
    inverse : numpy.ndarray
        Group number of every row.
    """
    mat = mat.tocsr()
    if not mat.has_sorted_indices:
        mat = mat.copy()
        mat.sort_indices()
    n = mat.shape[0]
    inverse, uniq = pd.factorize(_row_hashes(mat, chunk_nnz))
    inverse = np.asarray(inverse, dtype=np.int64)
    rep = np.full(len(uniq), -1, dtype=np.int64)
    rep[inverse[::-1]] = np.arange(n)[::-1]  # first row of each group
    bad_rows = _rows_differing_from(mat, rep[inverse], chunk_nnz)
    if bad_rows.size:  # hash collision (tested by forcing one)
        logger.warning("row-hash collision on %d rows; splitting exactly", bad_rows.size)
        next_id = len(uniq)
        extra: dict[tuple, int] = {}
        for r in bad_rows:
            key = tuple(mat.indices[mat.indptr[r] : mat.indptr[r + 1]])
            if key not in extra:
                extra[key] = next_id
                next_id += 1
            inverse[r] = extra[key]
        rep = np.full(next_id, -1, dtype=np.int64)
        rep[inverse[::-1]] = np.arange(n)[::-1]
        keep = rep >= 0
        remap = np.cumsum(keep) - 1
        inverse = remap[inverse]
        rep = rep[keep]
    return rep, inverse


def group_identical_dense_rows(mat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group identical rows of a dense matrix exactly (hash, then verify)."""
    n = mat.shape[0]
    h = pd.util.hash_pandas_object(pd.DataFrame(mat), index=False).to_numpy()
    inverse, uniq = pd.factorize(h)
    inverse = np.asarray(inverse, dtype=np.int64)
    rep = np.full(len(uniq), -1, dtype=np.int64)
    rep[inverse[::-1]] = np.arange(n)[::-1]
    equal = (mat == mat[rep[inverse]]) | (np.isinf(mat) & np.isinf(mat[rep[inverse]]))
    if not equal.all():  # pragma: no cover - hash collision
        _, rep, inverse = np.unique(mat, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
    return rep, inverse
