"""Compiled data-augmentation Gibbs sampler of the latent-class capture-recapture model.

One sweep follows Manrique-Vallier (2016, Biometrics 72:1246, section 3) in the order of
LCMCR's ``CNPLCM_CR_Basic_Freq::Update``:

1. class counts of the observed people, one multinomial per distinct observed pattern (cost
   scales with the number of distinct patterns, not with N);
2. ``lambda[k, c] ~ Beta(a + captured, b + not captured)`` over observed and imputed people;
3. alpha, then the order of the classes, given everyone's class with the sticks integrated
   out (`swap_adjacent_classes`), then the stick-breaking weights
   ``V_c ~ Beta(1 + n_c, alpha + sum_{l>c} n_l)`` (truncated at C);
4. the probability ``p0 = sum_c pi_c prod_k (1 - lambda[k, c])`` of being on no list;
5. ``n0 ~ NegativeBinomial(n_obs, 1 - p0)``: the full conditional of the number missed under
   the prior p(N) ~ 1/N (LCMCR's ``sam_n0``: failures before n_obs successes);
6. classes of the n0 missed people, a multinomial with weights ``pi_c prod_k (1 - lambda)``.

LCMCR draws ``alpha ~ Gamma(a_alpha + C - 1, b_alpha - log pi_C)`` given the sticks last
instead, and never reorders the classes; both leave the posterior as it is, but its chains
keep the class order they start with and settle in different places (see the moves' comment below).

Each stretch of a chain (a burn-in round, the kept draws) runs in one ``@njit`` call,
`advance`, which seeds Numba's generator inside it and carries the chain's state in place from
one call to the next: Numba's generator state is per thread, so chains in separate threads are
independent and a seed gives the same draws whatever else runs. ``cache=True`` keeps the
compiled code across processes; Numba does not notice edits to callees in other files when it
reuses a cache, so every function `advance` calls lives in this file.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# LCMCR's initialisation (``CNPLCM_CR_Basic_Freq::Initializes``) holds alpha at 0.3/C for 500
# warm-up sweeps so that a few classes form before alpha is learned, then relabels the classes
# by decreasing weight (``permute_latent_classes_by_nu``); we do the same within tune.
WARMUP_SWEEPS = 500
# A numerical guard only: the Poisson mean of the missing count when p0 -> 1. No posterior
# that the data support comes near it; it stops a runaway chain from hanging in the sampler.
_MAX_MISSING_MEAN = 1e12
# Below this many people a binomial is drawn as Bernoulli trials (cheaper than its set-up).
_FEW = 4


@njit(cache=True, nogil=True)
def _log_gamma(shape):
    """log of a Gamma(shape, 1) draw, exact also for tiny shapes where the draw underflows."""
    if shape == 1.0:
        # Exponential: the stick of every empty class.
        return np.log(-np.log(1.0 - np.random.random()))
    if shape > 1.0:
        return np.log(np.random.gamma(shape, 1.0))
    # Gamma(a) = Gamma(a + 1) * U^(1/a) (Marsaglia & Tsang 2000), taken on the log scale.
    return np.log(np.random.gamma(shape + 1.0, 1.0)) + np.log(1.0 - np.random.random()) / shape


@njit(cache=True, nogil=True)
def _beta(a, b):
    """Beta(a, b) with exact shortcuts for a or b equal to 1: the Beta(1, 1) lambdas of empty
    classes and the Beta(1, b) of lists nobody in a class is on are most of the draws."""
    if a == 1.0:
        if b == 1.0:
            return np.random.random()
        return -np.expm1(np.log(1.0 - np.random.random()) / b)
    if b == 1.0:
        return np.exp(np.log(1.0 - np.random.random()) / a)
    return np.random.beta(a, b)


@njit(cache=True, nogil=True)
def _multinomial(n, weights, order, out):
    """Multinomial(n, weights / sum) into ``out`` by conditional binomials, visiting classes
    in ``order`` (largest first) so that the count left is usually spent after the few
    occupied classes and the many empty ones cost nothing."""
    size = weights.shape[0]
    rest = 0.0
    for c in range(size):
        rest += weights[c]
        out[c] = 0
    remaining = n
    for i in range(size - 1):
        c = order[i]
        if remaining == 0:
            return
        if rest <= 0.0:
            break
        p = weights[c] / rest
        if p >= 1.0:
            x = remaining
        elif p <= 0.0:
            x = 0
        elif remaining <= _FEW:
            # A few people: one uniform each beats a binomial's set-up cost.
            x = 0
            for _ in range(remaining):
                if np.random.random() < p:
                    x += 1
        else:
            x = np.random.binomial(remaining, p)
        out[c] = x
        remaining -= x
        rest -= weights[c]
    out[order[size - 1]] += remaining


@njit(cache=True, nogil=True)
def _categorical(weights):
    total = 0.0
    for c in range(weights.shape[0]):
        total += weights[c]
    u = np.random.random() * total
    acc = 0.0
    for c in range(weights.shape[0] - 1):
        acc += weights[c]
        if u < acc:
            return c
    return weights.shape[0] - 1


@njit(cache=True, nogil=True)
def _relabel_by_weight(lam, log_pi, count0):
    """Put the classes in order of decreasing weight, as LCMCR does after its warm-up.

    The stick-breaking prior is not exchangeable in the labels: a class's prior weight depends
    on its position. A small class left in front of the big one by the warm-up keeps a weight
    of order 1/n instead of alpha/n and stays alive; on the Western U.S. table such a chain
    without `swap_adjacent_classes` settles near N = 2,000 for hundreds of thousands
    of sweeps instead of LCMCR's 1,836. With the moves, relabelling only shortens the burn-in.
    """
    perm = np.argsort(-log_pi)
    lam[:, :] = lam[:, perm].copy()
    log_pi[:] = log_pi[perm].copy()
    count0[:] = count0[perm].copy()


# Moves on the truncated stick-breaking prior with the sticks integrated out.
#
# LCMCR's blocked Gibbs sampler draws the sticks ``V_c`` given the class counts and then
# ``alpha`` given the sticks. Two slow modes follow, and both bias finite runs:
#
# - the class *order*: the prior ``V_c ~ Beta(1, alpha)`` is not exchangeable in the labels
#   (a class's prior weight depends on its position), and the blocked sampler almost never
#   swaps two occupied classes, so each chain keeps the order it happened to start from;
# - ``alpha`` and the sticks of the empty classes determine each other (``1 - V_c`` of an empty
#   class is about ``U^(1/alpha)``), so alpha moves as a slow random walk on the log scale.
#
# Given the counts ``n_c`` of everyone's class (observed and imputed), the sticks integrate out
# in closed form (Ishwaran & James 2001, "Gibbs sampling methods for stick-breaking priors",
# JASA 96:161, the generalized Dirichlet form):
#
#     p(n | alpha) = prod_{c < C-1} alpha B(1 + n_c, alpha + m_c),  m_c = sum_{l > c} n_l.
#
# So alpha is drawn from ``p(alpha | n)`` (slice sampling, Neal 2003, Ann. Statist. 31:705) and
# the order by Metropolis swaps of adjacent classes with acceptance ``p(n' | alpha)/p(n | alpha)``,
# the label-switching moves of Papaspiliopoulos & Roberts (2008, Biometrika 95:169) and Hastie,
# Liverani & Richardson (2015, Stat. Comput. 25:1023) with the sticks collapsed. A swap moves the
# two classes' capture probabilities and people with their labels, so the likelihood is unchanged.
# The sticks are then drawn given alpha and the new order, which makes the whole a partially
# collapsed Gibbs step (van Dyk & Park 2008, JASA 103:790) with the same posterior as LCMCR's.
# On UK6 an effective draw of N costs ~300 sweeps with these moves against ~8,000 without.


@njit(cache=True, nogil=True)
def suffix_counts(n_class, after):
    """``after[c] = sum_{l > c} n_class[l]``; returns how many leading sticks carry people
    (a stick with no one at or after it contributes ``alpha B(1, alpha) = 1``)."""
    acc = 0
    used = 0
    last = n_class.shape[0] - 1
    for c in range(last, -1, -1):
        after[c] = acc
        acc += n_class[c]
        if used == 0 and acc > 0:
            used = min(c + 1, last)
    return used


@njit(cache=True, nogil=True)
def _log_alpha_density(u, n_class, after, used, shape, rate):
    """log p(u = log alpha | n) up to a constant, Gamma(shape, rate) prior with its Jacobian."""
    alpha = math.exp(u)
    if alpha == 0.0:
        # Underflow: the density vanishes there (its slope in u is at least ``shape``).
        return -np.inf
    s = shape * u - rate * alpha
    for c in range(used):
        s += u + math.lgamma(alpha + after[c]) - math.lgamma(1.0 + n_class[c] + alpha + after[c])
    return s


# Slice width in log alpha and the most steps the slice may be stepped out by.
_SLICE_WIDTH = 1.0
_SLICE_STEPS = 50


@njit(cache=True, nogil=True)
def draw_alpha(alpha, n_class, after, used, shape, rate):
    """One slice-sampling update of log alpha given the class counts: stepping out at most
    ``_SLICE_STEPS`` widths, split at random between the two sides, then shrinking (Neal
    2003, figs. 3 and 5). A few evaluations of the density per update."""
    u0 = math.log(alpha)
    level = _log_alpha_density(u0, n_class, after, used, shape, rate) \
        + math.log(1.0 - np.random.random())
    lo = u0 - _SLICE_WIDTH * np.random.random()
    hi = lo + _SLICE_WIDTH
    left = int(_SLICE_STEPS * np.random.random())
    right = _SLICE_STEPS - 1 - left
    while left > 0 and _log_alpha_density(lo, n_class, after, used, shape, rate) > level:
        lo -= _SLICE_WIDTH
        left -= 1
    while right > 0 and _log_alpha_density(hi, n_class, after, used, shape, rate) > level:
        hi += _SLICE_WIDTH
        right -= 1
    while True:
        u = lo + (hi - lo) * np.random.random()
        if _log_alpha_density(u, n_class, after, used, shape, rate) > level:
            return math.exp(u)
        if u < u0:
            lo = u
        else:
            hi = u


@njit(cache=True, nogil=True)
def _stick_term(n, m, alpha):
    """log B(1 + n, alpha + m): a stick's factor of p(n | alpha) without its alpha."""
    return math.lgamma(1.0 + n) + math.lgamma(alpha + m) - math.lgamma(1.0 + n + alpha + m)


@njit(cache=True, nogil=True)
def swap_adjacent_classes(n_class, after, observed_class, count0, lam, alpha, downward):
    """One Metropolis pass of swaps of classes c and c + 1 over all c, from the front or
    (``downward``) from the back, so a class can travel the whole order in one pass.

    Only the sticks of c and c + 1 change; the last class has no stick of its own. Swapping two
    classes with equal counts changes nothing that the next steps read, so it is skipped.
    Returns the number of swaps made.
    """
    C = n_class.shape[0]
    swaps = 0
    for i in range(C - 1):
        c = C - 2 - i if downward else i
        na = n_class[c]
        nb = n_class[c + 1]
        if na == nb:
            continue
        rest = after[c + 1]
        log_ratio = _stick_term(nb, na + rest, alpha) - _stick_term(na, nb + rest, alpha)
        if c + 1 < C - 1:
            log_ratio += _stick_term(na, rest, alpha) - _stick_term(nb, rest, alpha)
        if log_ratio < 0.0 and np.random.random() >= math.exp(log_ratio):
            continue
        swaps += 1
        n_class[c] = nb
        n_class[c + 1] = na
        after[c] = na + rest
        x = observed_class[c]
        observed_class[c] = observed_class[c + 1]
        observed_class[c + 1] = x
        x = count0[c]
        count0[c] = count0[c + 1]
        count0[c + 1] = x
        for k in range(lam.shape[0]):
            p = lam[k, c]
            lam[k, c] = lam[k, c + 1]
            lam[k, c + 1] = p
    return swaps


@njit(cache=True, nogil=True)
def _missing_weights(lam, log_pi, out):
    """``out[c] = pi_c prod_k (1 - lambda[k, c])``, each class's share of the people on no
    list; returns their sum p0. Linear, as LCMCR's ``compute_probs_miss``: a weight below
    1e-308 is one no person could be drawn into anyway."""
    p0 = 0.0
    for c in range(out.shape[0]):
        x = np.exp(log_pi[c])
        for k in range(lam.shape[0]):
            x *= 1.0 - lam[k, c]
        out[c] = x
        p0 += x
    return p0


@njit(cache=True, nogil=True)
def _pattern_weights_logged(m, cells, lam, log_pi, w):
    """Class weights of pattern m on the log scale, rescaled to a maximum of 1: the fallback
    of step (1) when the linear product under- or overflows (a capture probability of
    exactly 0 or 1, or weights below 1e-308 for every class)."""
    top = -np.inf
    for c in range(w.shape[0]):
        s = log_pi[c]
        for k in range(cells.shape[1]):
            s += np.log(lam[k, c]) if cells[m, k] == 1 else np.log1p(-lam[k, c])
        w[c] = s
        top = max(top, s)
    for c in range(w.shape[0]):
        w[c] = np.exp(w[c] - top)


@njit(cache=True, nogil=True)
def _sort_by_count(order, n_class):
    """Insertion sort of ``order`` by decreasing ``n_class``. Classes rarely change rank from
    one sweep to the next, so this is one pass over an already sorted array (argsort was a
    tenth of the sweep on small tables)."""
    for i in range(1, order.shape[0]):
        c = order[i]
        j = i - 1
        while j >= 0 and n_class[order[j]] < n_class[c]:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = c


@njit(cache=True, nogil=True)
def initial_state(cells, freq, n_classes, hidden_start):
    """A chain's starting state: capture probabilities (K, C), log class weights (C,), the
    missed people's classes (C,) and ``[alpha]``, ``[n0]`` (one-element arrays, so that
    `advance` can carry them from one call to the next).

    LCMCR's start (``CNPLCM_CR_Basic_Freq::Initializes``): every class captures like the
    observed margins (kept off 0 and 1, where a log would be infinite), most weight on four
    classes, nobody missed yet. ``hidden_start`` instead starts high in N: the first class
    holds nine missed people per person seen and is caught at a tenth of the margins. The
    two starts lie far apart in N (the observed count and ten times it), so chains that
    begin at each and still disagree after burn-in reveal a mode that one start alone would
    hide (Gelman & Rubin 1992, Statist. Sci. 7:457, on overdispersed starting points).
    """
    n_cells, n_lists = cells.shape
    n_obs = 0
    for m in range(n_cells):
        n_obs += freq[m]
    C = n_classes
    lam = np.empty((n_lists, C))
    for k in range(n_lists):
        on = 0
        for m in range(n_cells):
            if cells[m, k] == 1:
                on += freq[m]
        p = min(max(on / n_obs, 1e-3), 1.0 - 1e-3)
        for c in range(C):
            lam[k, c] = p
    log_pi = np.empty(C)
    big = min(4, C)
    for c in range(C):
        if c < big:
            log_pi[c] = np.log(0.9 / big) if C > big else np.log(1.0 / C)
        else:
            log_pi[c] = np.log(0.1 / (C - big))
    count0 = np.zeros(C, dtype=np.int64)
    n0 = np.zeros(1, dtype=np.int64)
    if hidden_start and C > 1:
        for k in range(n_lists):
            lam[k, 0] = max(lam[k, 0] / 10.0, 1e-4)
        log_pi[0] = np.log(0.9)
        for c in range(1, C):
            log_pi[c] = np.log(0.1 / (C - 1))
        n0[0] = 9 * n_obs
        count0[0] = n0[0]
    alpha = np.full(1, 0.3 / C)
    return lam, log_pi, count0, alpha, n0


@njit(cache=True, nogil=True)
def run_chain(cells, freq, n_classes, alpha_shape, alpha_rate, lambda_a, lambda_b,
              seed, tune, draws, thin):
    """One chain from LCMCR's start: ``tune`` sweeps, then ``draws`` draws each after
    ``thin`` sweeps. Returns per draw the number missed n0, p0, alpha and the number of
    occupied classes (see `advance`)."""
    lam, log_pi, count0, alpha, n0 = initial_state(cells, freq, n_classes, False)
    return advance(cells, freq, alpha_shape, alpha_rate, lambda_a, lambda_b, seed,
                   min(WARMUP_SWEEPS, tune), tune, draws, thin, lam, log_pi, count0, alpha, n0)


@njit(cache=True, nogil=True)
def advance(cells, freq, alpha_shape, alpha_rate, lambda_a, lambda_b, seed, warmup, skip,
            draws, thin, lam, log_pi, count0, alpha_box, n0_box):
    """Move a chain on from the state (``lam``, ``log_pi``, ``count0``, ``alpha_box``,
    ``n0_box``; updated in place): ``skip`` sweeps, then ``draws`` draws each after ``thin``
    sweeps. The first ``warmup`` sweeps hold alpha fixed and end with LCMCR's relabelling
    (0 to continue a chain already warmed up).

    ``cells`` (M, K) int8 are the distinct observed patterns and ``freq`` (M,) their counts.
    Returns per draw the number missed n0, p0, alpha and the number of occupied classes.
    """
    np.random.seed(seed)
    n_cells, n_lists = cells.shape
    n_obs = 0
    for m in range(n_cells):
        n_obs += freq[m]
    C = lam.shape[1]
    alpha = alpha_box[0]
    n0 = n0_box[0]
    n_class = np.zeros(C, dtype=np.int64)
    observed_class = np.zeros(C, dtype=np.int64)
    on_kc = np.zeros((n_lists, C), dtype=np.int64)
    odds = np.empty((n_lists, C))
    w = np.empty(C)
    miss_w = np.empty(C)
    p0 = _missing_weights(lam, log_pi, miss_w)
    # The lists each observed pattern is on: a pattern's weights multiply only their odds.
    n_on = np.zeros(n_cells, dtype=np.int64)
    on_list = np.zeros((n_cells, n_lists), dtype=np.int64)
    for m in range(n_cells):
        for k in range(n_lists):
            if cells[m, k] == 1:
                on_list[m, n_on[m]] = k
                n_on[m] += 1
    row = np.empty(C, dtype=np.int64)
    order = np.arange(C)
    after = np.zeros(C, dtype=np.int64)
    warm = min(warmup, skip + draws * thin)

    out_n0 = np.empty(draws, dtype=np.int64)
    out_p0 = np.empty(draws)
    out_alpha = np.empty(draws)
    out_occupied = np.empty(draws, dtype=np.int64)

    total_sweeps = skip + draws * thin
    for sweep in range(total_sweeps):
        # (1) classes of the observed, per distinct pattern, classes visited largest first.
        # Class c's weight for pattern x is pi_c prod_k (1 - lam[k, c]), its weight among the
        # missed (kept from step 4 of the last sweep: lam and pi have not changed since),
        # times lam / (1 - lam) for each list x is on; so a pattern costs one product per
        # list it is on, where LCMCR multiplies K factors. Counts are tabulated as drawn.
        _sort_by_count(order, n_class)
        for k in range(n_lists):
            for c in range(C):
                odds[k, c] = lam[k, c] / (1.0 - lam[k, c])
                on_kc[k, c] = 0
        for c in range(C):
            observed_class[c] = 0
        for m in range(n_cells):
            total = 0.0
            for c in range(C):
                x = miss_w[c]
                for i in range(n_on[m]):
                    x *= odds[on_list[m, i], c]
                w[c] = x
                total += x
            if not (0.0 < total < np.inf):
                _pattern_weights_logged(m, cells, lam, log_pi, w)
            if freq[m] == 1:
                c = _categorical(w)
                observed_class[c] += 1
                for i in range(n_on[m]):
                    on_kc[on_list[m, i], c] += 1
                continue
            _multinomial(freq[m], w, order, row)
            for c in range(C):
                x = row[c]
                if x > 0:
                    observed_class[c] += x
                    for i in range(n_on[m]):
                        on_kc[on_list[m, i], c] += x

        # (2) capture probabilities given everyone's class (missed people are on no list).
        for c in range(C):
            n_class[c] = observed_class[c] + count0[c]
        for k in range(n_lists):
            for c in range(C):
                lam[k, c] = _beta(lambda_a + on_kc[k, c], lambda_b + n_class[c] - on_kc[k, c])

        # (3) alpha and the class order with the sticks integrated out, after LCMCR's
        # fixed-alpha warm-up; then the sticks, on the log scale as in LCMCR (sam_nu) so
        # that tiny weights of empty classes neither underflow nor become exactly zero.
        if sweep >= warm:
            used = suffix_counts(n_class, after)
            alpha = draw_alpha(alpha, n_class, after, used, alpha_shape, alpha_rate)
            swap_adjacent_classes(n_class, after, observed_class, count0, lam, alpha,
                                  sweep % 2 == 1)
        later = n_obs + n0
        log_rest = 0.0
        for c in range(C - 1):
            later -= n_class[c]
            if n_class[c] == 0:
                # V ~ Beta(1, b) has 1 - V = U^(1/b): one uniform instead of two gamma draws
                # for each empty class, most of the C - 1 sticks.
                log_stay = np.log(1.0 - np.random.random()) / (alpha + later)
                log_pi[c] = np.log(-np.expm1(log_stay)) + log_rest
                log_rest += log_stay
                continue
            g1 = _log_gamma(1.0 + n_class[c])
            g2 = _log_gamma(alpha + later)
            gs = max(g1, g2) + np.log1p(np.exp(-abs(g1 - g2)))
            log_pi[c] = g1 - gs + log_rest
            log_rest += g2 - gs
        log_pi[C - 1] = log_rest

        # (4) probability of the all-zero pattern; (5) the number missed given it.
        p0 = min(_missing_weights(lam, log_pi, miss_w), 1.0)
        if p0 <= 0.0:
            n0 = 0
        else:
            # NegBin(n_obs, 1 - p0) as a gamma-Poisson mixture (valid for any n_obs, p0).
            mean = np.random.gamma(n_obs, 1.0) * p0 / max(1.0 - p0, 1e-300)
            n0 = np.random.poisson(min(mean, _MAX_MISSING_MEAN))

        # (6) classes of the missed people.
        _multinomial(n0, miss_w, order, count0)

        if sweep == warm - 1:
            # End of the warm-up: what the next sweep reads of the classes is lam, log_pi,
            # the missed people's classes and weights; the rest is recomputed from them.
            _relabel_by_weight(lam, log_pi, count0)
            _missing_weights(lam, log_pi, miss_w)

        kept = sweep - skip + 1
        if kept > 0 and kept % thin == 0:
            i = kept // thin - 1
            occupied = 0
            for c in range(C):
                if observed_class[c] > 0 or count0[c] > 0:
                    occupied += 1
            out_n0[i] = n0
            out_p0[i] = p0
            out_alpha[i] = alpha
            out_occupied[i] = occupied
    alpha_box[0] = alpha
    n0_box[0] = n0
    return out_n0, out_p0, out_alpha, out_occupied
