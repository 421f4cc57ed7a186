//! The one call into `matrixmultiply`'s `sgemm`, behind a safe wrapper that
//! checks every dimension against the slices it is given.
#![allow(unsafe_code)]

/// Whether a row-major operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Use the matrix as stored.
    N,
    /// Use its transpose.
    T,
}

/// `c = alpha · op(a) · op(b) + beta · c` on row-major `f32` matrices, where
/// `op(a)` is `m × k`, `op(b)` is `k × n` and `c` is `m × n`.
///
/// `a` is stored `m × k` for [`Op::N`] and `k × m` for [`Op::T`] (likewise `b`).
/// When `beta` is zero, `c` is only written, never read.
///
/// # Panics
/// If a slice's length is not exactly what the dimensions require (a bug of the
/// caller, never of input data).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    op_a: Op,
    b: &[f32],
    op_b: Op,
    beta: f32,
    c: &mut [f32],
) {
    assert_eq!(a.len(), m * k, "gemm: `a` has wrong length");
    assert_eq!(b.len(), k * n, "gemm: `b` has wrong length");
    assert_eq!(c.len(), m * n, "gemm: `c` has wrong length");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if beta == 0.0 {
            c.fill(0.0);
        } else {
            c.iter_mut().for_each(|x| *x *= beta);
        }
        return;
    }
    let to_isize = |x: usize| isize::try_from(x).unwrap_or(isize::MAX);
    // Row and column strides of op(a) (m × k) and op(b) (k × n).
    let (rsa, csa) = match op_a {
        Op::N => (to_isize(k), 1),
        Op::T => (1, to_isize(m)),
    };
    let (rsb, csb) = match op_b {
        Op::N => (to_isize(n), 1),
        Op::T => (1, to_isize(k)),
    };
    // SAFETY: `a` holds exactly m·k elements and every index the strides reach
    // (i·rsa + l·csa for i < m, l < k) is below m·k in either layout; likewise
    // `b` (k·n) and `c` (m·n, strides n and 1). `c` is a unique borrow, so it
    // aliases neither input. matrixmultiply reads `c` only when beta ≠ 0.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            to_isize(n),
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, a: &[f32], ta: Op, b: &[f32], tb: Op) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for l in 0..k {
                    let av = if ta == Op::N {
                        a[i * k + l]
                    } else {
                        a[l * m + i]
                    };
                    let bv = if tb == Op::N {
                        b[l * n + j]
                    } else {
                        b[j * k + l]
                    };
                    s += av * bv;
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    #[test]
    fn all_transpose_combinations_match_the_naive_product() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.91).cos()).collect();
        for ta in [Op::N, Op::T] {
            for tb in [Op::N, Op::T] {
                let mut c = vec![1.0; m * n];
                gemm(m, k, n, 1.0, &a, ta, &b, tb, 0.0, &mut c);
                let want = naive(m, k, n, &a, ta, &b, tb);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - y).abs() < 1e-5, "{ta:?} {tb:?}: {x} vs {y}");
                }
                // beta = 1 accumulates.
                gemm(m, k, n, 1.0, &a, ta, &b, tb, 1.0, &mut c);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - 2.0 * y).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "wrong length")]
    fn wrong_lengths_are_caught() {
        let mut c = vec![0.0; 4];
        gemm(
            2,
            2,
            2,
            1.0,
            &[0.0; 3],
            Op::N,
            &[0.0; 4],
            Op::N,
            0.0,
            &mut c,
        );
    }
}
