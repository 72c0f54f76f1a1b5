"""Worked example: latent semantic analysis of nine titles, the appendix of Landauer, Foltz
and Laham (1998), "An Introduction to Latent Semantic Analysis" (after Deerwester et al.
1990).

Five titles on human–computer interaction (c1–c5) and four on graph theory (m1–m4); the
12 words that occur in at least two titles count their occurrences in each title.  A
2-dimensional SVD reconstruction X̂ = U₂Σ₂V₂ᵀ of the 12 × 9 matrix makes "human" and
"user", which never share a title, correlate strongly (their titles share other words),
and pushes "human" and "minors" apart.  The appendix reports r(human, user) -.38 → .94 and
r(human, minors) -.29 → -.83 (Pearson's r over the nine titles); ``main`` prints both.
"""
import numpy as np

TITLES = {
    "c1": "Human machine interface for ABC computer applications",
    "c2": "A survey of user opinion of computer system response time",
    "c3": "The EPS user interface management system",
    "c4": "System and human system engineering testing of EPS",
    "c5": "Relation of user perceived response time to error measurement",
    "m1": "The generation of random, binary, ordered trees",
    "m2": "The intersection graph of paths in trees",
    "m3": "Graph minors IV: Widths of trees and well-quasi-ordering",
    "m4": "Graph minors: A survey",
}
WORDS = ["human", "interface", "computer", "user", "system", "response", "time", "eps", "survey", "trees", "graph",
         "minors"]


def counts():
    """The 12 × 9 word-by-title counts (words as the appendix lists them, titles c1..m4)."""
    titles = [[word.strip(",:").lower() for word in title.split()] for title in TITLES.values()]
    return np.array([[title.count(word) for title in titles] for word in WORDS], dtype=float)


def reconstruction(matrix, rank=2):
    """The best rank-``rank`` approximation of ``matrix`` (truncated SVD)."""
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    return u[:, :rank] * s[:rank] @ vt[:rank]


def correlation(matrix, a, b):
    """Pearson's r between the rows of words ``a`` and ``b`` over the titles."""
    return float(np.corrcoef(matrix[WORDS.index(a)], matrix[WORDS.index(b)])[0, 1])


def correlations():
    """{(a, b): (r in the counts, r in the 2-dimensional reconstruction)}."""
    original = counts()
    reduced = reconstruction(original)
    return {pair: (correlation(original, *pair), correlation(reduced, *pair))
            for pair in (("human", "user"), ("human", "minors"))}


def main():
    np.set_printoptions(precision=2, suppress=True)
    print("counts (rows: words; columns: " + " ".join(TITLES) + ")")
    print(counts())
    print("\n2-dimensional reconstruction")
    print(reconstruction(counts()))
    for (a, b), (before, after) in correlations().items():
        print(f"r({a}, {b}): {before:+.2f} -> {after:+.2f}")


if __name__ == "__main__":
    main()
