//! The NumPy two-layer net of the dropout tutorials, written out by hand: the forward pass, the
//! dropout mask, the softmax loss and every gradient, without `Sequential` or an optimizer.
//!
//!   h = relu(x W1 + b1);  h~ = h * m / (1 - p);  s = h~ W2 + b2;  L = softmax cross-entropy
//!   ds = (softmax(s) - y) / B;  dW2 = h~^T ds;  dh~ = ds W2^T;  dh = dh~ * m / (1 - p) * [h > 0]
//!   dW1 = x^T dh;  then SGD: W -= lr * dW.
//!
//! Run: `cargo run --release --example two_layer_net`

use dropkit::dropout::{Dropout, Scaling};
use dropkit::kernels::gemm::{matmul, MatRef};
use dropkit::layer::{Ctx, Layer, Mode};
use dropkit::loss::CrossEntropy;
use dropkit::prelude::*;
use dropkit::rng::Stream;

const HIDDEN: usize = 100;
const CLASSES: usize = 10;

fn main() -> dropkit::Result<()> {
    let data = load_mnist(&resolve_source(None, "mnist")?, "mnist")?;
    let d = data.train.sample_len();
    let mut init = Stream::new(1, 0, 0);
    // W1: (D, H), W2: (H, C), NumPy-style layout, small Gaussian initialisation.
    let mut w1: Vec<f32> = (0..d * HIDDEN).map(|_| init.normal() * 0.01).collect();
    let mut w2: Vec<f32> = (0..HIDDEN * CLASSES).map(|_| init.normal() * 0.01).collect();
    let (mut b1, mut b2) = (vec![0.0f32; HIDDEN], vec![0.0f32; CLASSES]);
    let mut dropout = Dropout::new(0.5, Scaling::Inverted)?;
    dropout.build(&[HIDDEN], 0, &mut init)?;
    let (batch, lr, seed) = (200, 0.5f32, 1u64);
    let mut loss = CrossEntropy::new();
    let mut order = Vec::new();
    let mut x = Tensor::default();
    let mut step = 0u64;
    for epoch in 0..5 {
        dropkit::data::batches::epoch_order(seed, epoch, data.train.len(), &mut order);
        let mut total = 0.0;
        for idx in order.chunks(batch) {
            let b = idx.len();
            x.gather_rows(&data.train.images, &data.train.sample_shape, idx);
            let labels: Vec<u32> = idx.iter().map(|&i| data.train.labels()[i]).collect();
            let ctx = Ctx::new(Mode::Train, seed, step);
            // Forward.
            let mut h = Tensor::zeros(&[b, HIDDEN]);
            h.data_mut().chunks_exact_mut(HIDDEN).for_each(|r| r.copy_from_slice(&b1));
            matmul(h.data_mut(), MatRef::new(x.data(), b, d), MatRef::new(&w1, d, HIDDEN), true);
            h.data_mut().iter_mut().for_each(|v| *v = v.max(0.0));
            let hd = dropout.forward(&h, &ctx)?.clone();
            let mut s = Tensor::zeros(&[b, CLASSES]);
            s.data_mut().chunks_exact_mut(CLASSES).for_each(|r| r.copy_from_slice(&b2));
            matmul(s.data_mut(), MatRef::new(hd.data(), b, HIDDEN), MatRef::new(&w2, HIDDEN, CLASSES), true);
            total += loss.compute(&s, &labels, true)?.loss_sum;
            let ds = loss.grad();
            // Backward.
            let mut dw2 = vec![0.0; HIDDEN * CLASSES];
            matmul(&mut dw2, MatRef::new(hd.data(), b, HIDDEN).t(), MatRef::new(ds.data(), b, CLASSES), false);
            let db2: Vec<f32> = (0..CLASSES).map(|c| ds.data().iter().skip(c).step_by(CLASSES).sum()).collect();
            let mut dhd = Tensor::zeros(&[b, HIDDEN]);
            matmul(dhd.data_mut(), MatRef::new(ds.data(), b, CLASSES), MatRef::new(&w2, HIDDEN, CLASSES).t(), false);
            let mut dh = dropout.backward(&h, &dhd, &ctx)?.clone();
            dh.data_mut().iter_mut().zip(h.data()).for_each(|(g, &a)| {
                if a <= 0.0 {
                    *g = 0.0
                }
            });
            let mut dw1 = vec![0.0; d * HIDDEN];
            matmul(&mut dw1, MatRef::new(x.data(), b, d).t(), MatRef::new(dh.data(), b, HIDDEN), false);
            let db1: Vec<f32> = (0..HIDDEN).map(|j| dh.data().iter().skip(j).step_by(HIDDEN).sum()).collect();
            // SGD.
            for (w, g) in w1.iter_mut().zip(&dw1).chain(w2.iter_mut().zip(&dw2)) {
                *w -= lr * g;
            }
            for (w, g) in b1.iter_mut().zip(&db1).chain(b2.iter_mut().zip(&db2)) {
                *w -= lr * g;
            }
            step += 1;
        }
        println!("epoch {}: loss {:.4}", epoch + 1, total / data.train.len() as f64);
    }
    // Evaluation: inverted dropout is the identity, so the test pass is just the two layers.
    let n = data.test.len();
    let mut h = Tensor::zeros(&[n, HIDDEN]);
    h.data_mut().chunks_exact_mut(HIDDEN).for_each(|r| r.copy_from_slice(&b1));
    matmul(h.data_mut(), MatRef::new(&data.test.images, n, d), MatRef::new(&w1, d, HIDDEN), true);
    h.data_mut().iter_mut().for_each(|v| *v = v.max(0.0));
    let mut s = Tensor::zeros(&[n, CLASSES]);
    s.data_mut().chunks_exact_mut(CLASSES).for_each(|r| r.copy_from_slice(&b2));
    matmul(s.data_mut(), MatRef::new(h.data(), n, HIDDEN), MatRef::new(&w2, HIDDEN, CLASSES), true);
    let stats = CrossEntropy::new().compute(&s, data.test.labels(), false)?;
    println!("test accuracy {:.4} (data: {})", stats.accuracy(), data.source);
    Ok(())
}
