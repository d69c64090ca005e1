//! Max-norm regularisation (Srivastava et al. 2014, section 5.1): after each update, every
//! unit's incoming weight vector `w_i` (a row of a (out, in) weight) is projected onto the
//! ball `||w_i||_2 <= c`.

use rayon::prelude::*;

/// Rescales each of the `rows` rows of `w` whose L2 norm exceeds `c` to norm `c`.
pub fn constrain_rows(w: &mut [f32], rows: usize, c: f32) {
    if rows == 0 || w.is_empty() {
        return;
    }
    let cols = w.len() / rows;
    w.par_chunks_mut(cols.max(1)).for_each(|row| {
        let norm = row.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt() as f32;
        if norm > c {
            let s = c / norm;
            row.iter_mut().for_each(|x| *x *= s);
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_above_the_bound_are_projected_others_untouched() {
        let mut w = vec![3.0, 4.0, 0.3, 0.4];
        super::constrain_rows(&mut w, 2, 1.0);
        assert!((w[0] - 0.6).abs() < 1e-6 && (w[1] - 0.8).abs() < 1e-6);
        assert_eq!(&w[2..], &[0.3, 0.4]);
    }
}
