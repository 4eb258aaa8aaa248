"""Compiled kernels of the n-gram features (numba): see `ngrams.py`.

Imported on first use only (numba is large): a scan with the learned tier off never loads it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

_BASIS = np.uint64(0xCBF29CE484222325)
_PRIME = np.uint64(0x100000001B3)
_MASK32 = np.uint64(0xFFFFFFFF)
_SIZE = np.uint64(0x9E3779B97F4A7C15)

@njit(cache=True, inline="always")
def step(h: Any, byte: Any) -> Any:
    return ((h ^ np.uint64(byte)) * _PRIME) & np.uint64(0xFFFFFFFFFFFFFFFF)

@njit(cache=True, inline="always")
def bucket(h: Any, bits: Any) -> Any:
    # A final mix so the low bits depend on every byte.
    h ^= h >> np.uint64(29)
    h = (h * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    h ^= h >> np.uint64(32)
    return np.int64(h & ((np.uint64(1) << np.uint64(bits)) - np.uint64(1)) & _MASK32)

@njit(cache=True, inline="always")
def _alnum(c: Any) -> Any:
    return (97 <= c <= 122) or (48 <= c <= 57)


@njit(cache=True, inline="always")
def _vowel(c: Any) -> Any:
    return c == 97 or c == 101 or c == 105 or c == 111 or c == 117 or c == 121


@njit(cache=True)
def normalise(raw: Any) -> Any:
    """[a-z0-9] kept, every other run one space, a space at both ends; a letter held three
    times or more written once ("nuuudes"); three or more one-character tokens in a row
    joined ("n u d e s", "n.u.d.e.s": the separators are gone by now)."""
    n = raw.shape[0]
    buf = np.empty(n + 2, np.uint8)
    m = 0
    buf[m] = 32
    m += 1
    i = 0
    while i < n:
        c = raw[i]
        if _alnum(c):
            run = 1
            while i + run < n and raw[i + run] == c:
                run += 1
            buf[m] = c
            m += 1
            if run == 2:
                buf[m] = c
                m += 1
            i += run
            continue
        if buf[m - 1] != 32:
            buf[m] = 32
            m += 1
        i += 1
    if buf[m - 1] != 32:
        buf[m] = 32
        m += 1
    # Join runs of one-character tokens: positions 1, 3, 5 ... hold "x " pairs.
    out = np.empty(m, np.uint8)
    k = 0
    out[k] = 32
    k += 1
    i = 1
    while i < m:
        if buf[i - 1] == 32 and buf[i] != 32 and buf[i + 1] == 32:  # a one-character token
            j = i
            while j + 3 <= m and buf[j + 1] == 32 and buf[j + 2] != 32 and (
                    j + 3 == m or buf[j + 3] == 32):
                j += 2
            if j - i >= 4:  # three or more
                for t in range(i, j + 1, 2):
                    out[k] = buf[t]
                    k += 1
                out[k] = 32
                k += 1
                i = j + 2
                continue
        out[k] = buf[i]
        k += 1
        i += 1
    return out[:k]


@njit(cache=True)
def grams(raw: Any, bits: Any) -> Any:
    buf = normalise(raw)
    m = buf.shape[0]
    out = np.empty(7 * m + 4, np.int64)
    k = 0
    if m <= 1:
        return out[:0]
    # One pass per start: the hash of each gram extends the one before (2 to 5 characters);
    # the length is mixed in at the end so "ab" and a 3-gram never share a bucket by design.
    for start in range(0, m - 1):
        h = step(_BASIS, buf[start])
        top = min(start + 5, m)
        for j in range(start + 1, top):
            h = step(h, buf[j])
            out[k] = bucket(h ^ (np.uint64(j - start + 1) * _SIZE), bits)
            k += 1
    # Words: between spaces; unigrams, and bigrams with the word before.
    prev_start = -1
    prev_end = -1
    start = 1
    for i in range(1, m):
        if buf[i] == 32:
            if i > start:
                h = step(_BASIS, 0xF0)
                for j in range(start, i):
                    h = step(h, buf[j])
                out[k] = bucket(h, bits)
                k += 1
                if i - start >= 3:
                    # The word's skeleton: first letter, inner consonants, last letter, so
                    # "nudes" and "ndes" or "nds" share a feature (dropped vowels).
                    h = step(step(_BASIS, 0xF2), buf[start])
                    for j in range(start + 1, i - 1):
                        if not _vowel(buf[j]):
                            h = step(h, buf[j])
                    h = step(h, buf[i - 1])
                    out[k] = bucket(h, bits)
                    k += 1
                if prev_start >= 0:
                    h = step(_BASIS, 0xF1)
                    for j in range(prev_start, prev_end):
                        h = step(h, buf[j])
                    h = step(h, 32)
                    for j in range(start, i):
                        h = step(h, buf[j])
                    out[k] = bucket(h, bits)
                    k += 1
                prev_start = start
                prev_end = i
            start = i + 1
    return out[:k]

@njit(cache=True)
def logits(raw: Any, bits: Any, weights: Any, bias: Any) -> Any:
    idx = grams(raw, bits)
    classes = weights.shape[1]
    out = np.zeros(classes, np.float32)
    if idx.shape[0] == 0:
        return out + bias
    for i in range(idx.shape[0]):
        row = idx[i]
        for c in range(classes):
            out[c] += weights[row, c]
    scale = np.float32(1.0 / np.sqrt(idx.shape[0]))
    for c in range(classes):
        out[c] = out[c] * scale + bias[c]
    return out


@njit(cache=True)
def margins(d: Any) -> Any:
    # Log-odds of each category against every other class, `none` being the 0 reference:
    # margin_c = d_c - log(1 + sum_{j != c} exp(d_j)), with the largest term factored out.
    k = d.shape[0]
    out = np.empty(k, np.float64)
    for c in range(k):
        top = 0.0
        for j in range(k):
            if j != c and d[j] > top:
                top = d[j]
        total = np.exp(-top)
        for j in range(k):
            if j != c:
                total += np.exp(d[j] - top)
        out[c] = d[c] - (top + np.log(total))
    return out


@njit(cache=True)
def probabilities(raw: Any, bits: Any, weights: Any, bias: Any, calibration: Any) -> Any:
    d = logits(raw, bits, weights, bias).astype(np.float64)
    m = margins(d)
    out = np.empty(m.shape[0], np.float64)
    top = 0.0
    for c in range(m.shape[0]):
        z = calibration[c, 0] * m[c] + calibration[c, 1]
        out[c] = 0.5 * (1.0 + np.tanh(0.5 * z))
        top = max(top, out[c])
    return out, top


@njit(cache=True)
def top_probability(raw: Any, bits: Any, weights: Any, bias: Any, calibration: Any) -> Any:
    # The largest calibrated probability only: a float crosses back, no array is made.
    return probabilities(raw, bits, weights, bias, calibration)[1]
