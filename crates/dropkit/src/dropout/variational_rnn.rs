//! LSTM and GRU layers with variational (time-locked) dropout (Gal and Ghahramani, "A
//! Theoretically Grounded Application of Dropout in Recurrent Neural Networks", NeurIPS 2016,
//! <https://arxiv.org/abs/1512.05287>), in PyTorch's gate formulation.
//!
//! LSTM (gates i, f, g, o): `z = x~ W_ih^T + b_ih + h~ W_hh^T + b_hh`; `c' = f c + i g`;
//! `h' = o tanh(c')`. GRU (gates r, z, n): `r, z = sigma(...)`,
//! `n = tanh(x~ W_in^T + b_in + r (h~ W_hn^T + b_hn))`, `h' = (1 - z) n + z h`.
//! Drops: `x~ = x * m_x / (1 - p_x)` and `h~ = h * m_h / (1 - p_h)` with masks drawn once per
//! sequence (per sample and feature) and kept at every time step; the GRU's `z h` term uses the
//! undropped h. Eval: no masks. Monte Carlo: fresh masks per sample, locked over time.
//! Backward: backpropagation through time with the same masks. Input (B, T, F) (or (B, 1, T, F),
//! e.g. image rows as time steps); output the last h (B, H), or every h (B, T, H) with
//! `sequences`. The LSTM's forget-gate bias starts at 1 (Keras' `unit_forget_bias`).

use super::{drop_mask, inverted_scale, rnn_gates, validate_p};
use crate::error::{Error, Result};
use crate::kernels::gemm::{matmul, MatRef};
use crate::kernels::mask;
use crate::kernels::transpose::transpose;
use crate::kind::{downcast, one, Call, LayerConfig, LayerKind, Substitute};
use crate::layer::{Ctx, Layer, Param, ParamKind};
use crate::rng::Stream;
use crate::tensor::Tensor;

/// Which recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Lstm,
    Gru,
}

impl Cell {
    fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
        }
    }
}

/// Options of a recurrent layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RnnOptions {
    /// Drop probability of the inputs, one mask per sequence.
    pub dropout: f64,
    /// Drop probability of the recurrent state fed to `W_hh`, one mask per sequence.
    pub recurrent_dropout: f64,
    /// Output every time step's h instead of the last.
    pub sequences: bool,
}

impl Default for RnnOptions {
    fn default() -> Self {
        RnnOptions { dropout: 0.0, recurrent_dropout: 0.0, sequences: false }
    }
}

/// A recurrent layer (LSTM or GRU) with variational dropout.
pub struct Recurrent {
    cell: Cell,
    hidden: usize,
    p_x: f32,
    p_h: f32,
    sequences: bool,
    steps: usize,
    features: usize,
    w_ih: Param,
    w_hh: Param,
    b_ih: Param,
    b_hh: Param,
    id: u64,
    /// Masks times their scale (B, F) and (B, H), or empty when not dropping.
    mx: Vec<f32>,
    mh: Vec<f32>,
    /// Dropped inputs (B*T, F + 1), each row ending in a 1: the product that yields dW_ih
    /// yields db_ih in that column, with no pass of its own over the gradients.
    xm: Vec<f32>,
    /// (B, T, G*H): the input projections, each step's row replaced by its gates in forward
    /// and by their pre-activation gradients (the input side's) in backward.
    pre: Vec<f32>,
    /// Whether `pre` holds a forward pass's gates, which one backward pass consumes.
    gates_saved: bool,
    /// GRU: `h~ W_hn^T + b_hn` per step (T, B, H).
    hn: Vec<f32>,
    /// States h and c at steps 0..=T, (T+1, B, H); c only for LSTM.
    h: Vec<f32>,
    c: Vec<f32>,
    /// Scratch: a product (B, H) in backward, a recurrent product (B, G*H).
    hm: Vec<f32>,
    zh: Vec<f32>,
    /// Every dropped h fed to W_hh (B*T, H + 1), in (sample, step) order, each row ending in a
    /// 1 (for db_hh, as `xm`'s for db_ih): written by each step's gate pass for the next, read
    /// by the next step's product and by backward's dW_hh.
    h_dropped: Vec<f32>,
    /// A weight gradient with its bias gradient as its last column, (G*H, F + 1 or H + 1).
    grad_with_bias: Vec<f32>,
    /// W_hh^T (H, G*H), copied once per forward pass: the product of each step reads it
    /// row-major, which the GEMM need not repack at every step as it does W_hh's transposed view.
    w_hh_t: Vec<f32>,
    /// The biases added to every step's pre-activations in its gate pass: b_ih + b_hh (the
    /// GRU's b_hn apart, which r multiplies).
    bias: Vec<f32>,
    /// GRU: the recurrent side's pre-activation gradients (B, T, G*H).
    dzh: Vec<f32>,
    /// Backward state (B, H): dh from later steps, dc from later steps, this step's dh.
    dh_next: Vec<f32>,
    dc_next: Vec<f32>,
    dh: Vec<f32>,
    y: Tensor,
    dx: Tensor,
}

impl Recurrent {
    pub fn new(cell: Cell, hidden: usize, options: RnnOptions) -> Result<Self> {
        let name = cell.name();
        if hidden == 0 {
            return Err(Error::InvalidArgument(format!("{name}(0): the hidden size must be at least 1")));
        }
        let p_x = validate_p(&format!("{name} dropout"), options.dropout)?;
        let p_h = validate_p(&format!("{name} recurrent dropout"), options.recurrent_dropout)?;
        let zero = || Param::zeros(&[0], ParamKind::Bias);
        Ok(Recurrent {
            cell,
            hidden,
            p_x,
            p_h,
            sequences: options.sequences,
            steps: 0,
            features: 0,
            w_ih: Param::zeros(&[0], ParamKind::Weight),
            w_hh: Param::zeros(&[0], ParamKind::Weight),
            b_ih: zero(),
            b_hh: zero(),
            id: 0,
            mx: Vec::new(),
            mh: Vec::new(),
            xm: Vec::new(),
            pre: Vec::new(),
            gates_saved: false,
            hn: Vec::new(),
            h: Vec::new(),
            c: Vec::new(),
            hm: Vec::new(),
            zh: Vec::new(),
            h_dropped: Vec::new(),
            grad_with_bias: Vec::new(),
            w_hh_t: Vec::new(),
            bias: Vec::new(),
            dzh: Vec::new(),
            dh_next: Vec::new(),
            dc_next: Vec::new(),
            dh: Vec::new(),
            y: Tensor::default(),
            dx: Tensor::default(),
        })
    }

    /// Draws the time-locked masks for this pass (empty when a mask would keep everything).
    fn draw_masks(&mut self, ctx: &Ctx, batch: usize) {
        let draw = |p: f32, id: u64, n: usize, out: &mut Vec<f32>| {
            out.clear();
            if let Some(key) = drop_mask(ctx, id, p) {
                out.resize(n, 0.0);
                mask::fill(out, &key, inverted_scale(p));
            }
        };
        draw(self.p_x, self.id, batch * self.features, &mut self.mx);
        draw(self.p_h, crate::rng::streams::recurrent_state(self.id), batch * self.hidden, &mut self.mh);
    }

    /// `dst = src * mask` per row group, or a copy without a mask.
    fn masked(dst: &mut [f32], src: &[f32], mask: &[f32]) {
        if mask.is_empty() {
            dst.copy_from_slice(src);
        } else {
            dst.iter_mut().zip(src).zip(mask).for_each(|((d, &s), &m)| *d = s * m);
        }
    }
}

impl Layer for Recurrent {
    fn mask_bytes(&self) -> usize {
        (self.mx.len() + self.mh.len()) * std::mem::size_of::<f32>()
    }
    fn spec(&self) -> String {
        let seq = if self.sequences { ", sequences" } else { "" };
        format!("{}({}, {}, {}{seq})", self.cell.name(), self.hidden, self.p_x, self.p_h)
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], id: u64, init: &mut Stream) -> Result<Vec<usize>> {
        self.id = id;
        let (t, f) = match input {
            &[t, f] | &[1, t, f] => (t, f),
            _ => {
                return Err(Error::Shape {
                    context: self.spec(),
                    got: input.to_vec(),
                    expected: "(time steps, features) per sample".into(),
                })
            }
        };
        (self.steps, self.features) = (t, f);
        let (g, h) = (self.cell.gates(), self.hidden);
        self.w_ih = Param::checked(&[g * h, f], ParamKind::Weight, &self.spec())?;
        self.w_hh = Param::checked(&[g * h, h], ParamKind::Weight, &self.spec())?;
        self.b_ih = Param::checked(&[g * h], ParamKind::Bias, &self.spec())?;
        self.b_hh = Param::checked(&[g * h], ParamKind::Bias, &self.spec())?;
        // PyTorch: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias.
        let a = 1.0 / (h as f32).sqrt();
        for p in [&mut self.w_ih, &mut self.w_hh, &mut self.b_ih, &mut self.b_hh] {
            p.value.data_mut().iter_mut().for_each(|v| *v = (2.0 * init.uniform() - 1.0) * a);
        }
        if self.cell == Cell::Lstm {
            self.b_ih.value.data_mut()[h..2 * h].fill(1.0);
            self.b_hh.value.data_mut()[h..2 * h].fill(0.0);
        }
        Ok(if self.sequences { vec![t, h] } else { vec![h] })
    }

    // x: (B, T, F) -> y: (B, H) or (B, T, H)
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        let (t_n, f, h, g) = (self.steps, self.features, self.hidden, self.cell.gates());
        if x.shape().is_empty() || x.len() != x.rows() * t_n * f {
            return Err(Error::Shape {
                context: self.spec(),
                got: x.shape().to_vec(),
                expected: format!("(batch, {t_n}, {f})"),
            });
        }
        let b = x.rows();
        self.draw_masks(ctx, b);
        // Dropped inputs, the same mask at every step, and the column of ones.
        self.xm.resize(b * t_n * (f + 1), 0.0);
        for (s, (dst, src)) in self.xm.chunks_mut(t_n * (f + 1)).zip(x.data().chunks(t_n * f)).enumerate() {
            for (dst_t, src_t) in dst.chunks_mut(f + 1).zip(src.chunks(f)) {
                Self::masked(&mut dst_t[..f], src_t, self.mx.get(s * f..(s + 1) * f).unwrap_or(&[]));
                dst_t[f] = 1.0;
            }
        }
        // All input projections in one product: (B*T, G*H), the biases added in the gate passes.
        self.bias.clear();
        self.bias.extend(self.b_ih.value.data().iter().zip(self.b_hh.value.data()).map(|(a, b)| a + b));
        if self.cell == Cell::Gru {
            self.bias[2 * h..].copy_from_slice(&self.b_ih.value.data()[2 * h..]);
        }
        self.pre.resize(b * t_n * g * h, 0.0);
        let w_ih = MatRef::new(self.w_ih.value.data(), g * h, f);
        let xm = MatRef { data: &self.xm, rows: b * t_n, cols: f, rs: f + 1, cs: 1 };
        matmul(&mut self.pre, xm, w_ih.t(), false);
        // The states at step 0 are zero; every later one is written by its step.
        self.h.resize((t_n + 1) * b * h, 0.0);
        self.h[..b * h].fill(0.0);
        if self.cell == Cell::Lstm {
            self.c.resize((t_n + 1) * b * h, 0.0);
            self.c[..b * h].fill(0.0);
        } else {
            self.hn.resize(t_n * b * h, 0.0);
        }
        self.zh.resize(b * g * h, 0.0);
        // The state fed to step 0 is h_0 = 0; each step's gate pass feeds the next.
        self.h_dropped.resize(b * t_n * (h + 1), 0.0);
        for rows in self.h_dropped.chunks_exact_mut(t_n * (h + 1)) {
            rows[..h].fill(0.0);
            rows.chunks_exact_mut(h + 1).for_each(|row| row[h] = 1.0);
        }
        self.w_hh_t.resize(g * h * h, 0.0);
        transpose(&mut self.w_hh_t, self.w_hh.value.data(), h, g * h, None);
        let w_hh_t = MatRef::new(&self.w_hh_t, h, g * h);
        for t in 0..t_n {
            let (h_prev, h_next) = self.h.split_at_mut((t + 1) * b * h);
            let h_prev = &h_prev[t * b * h..];
            let fed = MatRef { data: &self.h_dropped[t * (h + 1)..], rows: b, cols: h, rs: t_n * (h + 1), cs: 1 };
            matmul(&mut self.zh, fed, w_hh_t, false);
            let h_new = &mut h_next[..b * h];
            let step = rnn_gates::Step { zh: &self.zh, bias: &self.bias, t, steps: t_n, hidden: h };
            let feed = rnn_gates::Feed { out: &mut self.h_dropped, mask: &self.mh, stride: h + 1 };
            match self.cell {
                Cell::Lstm => {
                    let (c_prev, c_next) = self.c.split_at_mut((t + 1) * b * h);
                    let c_next = &mut c_next[..b * h];
                    rnn_gates::lstm_forward(&step, &mut self.pre, &c_prev[t * b * h..], (c_next, h_new), feed);
                }
                Cell::Gru => {
                    let hn = &mut self.hn[t * b * h..(t + 1) * b * h];
                    let b_hn = &self.b_hh.value.data()[2 * h..];
                    rnn_gates::gru_forward(&step, b_hn, &mut self.pre, h_prev, (h_new, hn), feed);
                }
            }
        }
        self.gates_saved = true;
        // Output: the last h, or every h as (B, T, H).
        if self.sequences {
            self.y.resize(&[b, t_n, h]);
            for s in 0..b {
                for t in 0..t_n {
                    let src = &self.h[((t + 1) * b + s) * h..((t + 1) * b + s + 1) * h];
                    self.y.data_mut()[(s * t_n + t) * h..(s * t_n + t + 1) * h].copy_from_slice(src);
                }
            }
        } else {
            self.y.resize(&[b, h]);
            self.y.data_mut().copy_from_slice(&self.h[t_n * b * h..]);
        }
        Ok(&self.y)
    }

    // Backpropagation through time with the forward pass's masks.
    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        let (t_n, f, h, g) = (self.steps, self.features, self.hidden, self.cell.gates());
        let b = x.rows();
        if dy.len() != self.y.len() || !self.gates_saved || self.pre.len() != t_n * b * g * h {
            return Err(Error::Shape {
                context: format!("{} backward", self.spec()),
                got: dy.shape().to_vec(),
                expected: format!("{:?} after a forward pass (each forward pass serves one backward)", self.y.shape()),
            });
        }
        self.gates_saved = false;
        // The input-side pre-activation gradients replace the gates in `pre`, (B, T, G*H);
        // dzh, the hidden side's, is the same for the LSTM (`pre` serves), apart for the GRU
        // (whose n gate has r h~ W_hn^T).
        let gh = g * h;
        if self.cell == Cell::Gru {
            self.dzh.resize(b * t_n * gh, 0.0);
        }
        // Buffers kept between steps: no allocation once the batch size is seen.
        let (mut dh_next, mut dc_next, mut dh) =
            (std::mem::take(&mut self.dh_next), std::mem::take(&mut self.dc_next), std::mem::take(&mut self.dh));
        for buf in [&mut dh_next, &mut dc_next, &mut dh] {
            buf.clear();
            buf.resize(b * h, 0.0);
        }
        self.hm.resize(b * h, 0.0);
        let w_hh = MatRef::new(self.w_hh.value.data(), gh, h);
        for t in (0..t_n).rev() {
            // dh = direct + (dzh_{t+1} W_hh) * m_h + dy_t, summed in the gate pass.
            let dh_in = rnn_gates::DhIn {
                recurrent: if t + 1 < t_n { &self.hm } else { &[] },
                mask: &self.mh,
                dy: if self.sequences || t + 1 == t_n { dy.data() } else { &[] },
                dy_stride: if self.sequences { t_n * h } else { h },
                dy_offset: if self.sequences { t * h } else { 0 },
            };
            let h_prev = &self.h[t * b * h..(t + 1) * b * h];
            let step = rnn_gates::Step { zh: &[], bias: &[], t, steps: t_n, hidden: h };
            match self.cell {
                Cell::Lstm => {
                    let c = (&self.c[t * b * h..(t + 1) * b * h], &self.c[(t + 1) * b * h..(t + 2) * b * h]);
                    rnn_gates::lstm_backward(&step, &mut self.pre, c, &dh_in, (&mut dh, &mut dc_next));
                }
                Cell::Gru => {
                    let saved = (&self.hn[t * b * h..(t + 1) * b * h], h_prev);
                    let grads = (&mut self.pre[..], &mut self.dzh[..]);
                    rnn_gates::gru_backward(&step, grads, saved, &dh_in, (&mut dh, &mut dh_next));
                }
            }
            // The next (earlier) step's recurrent part: dzh_t W_hh, with dzh_t the step's rows
            // of (B, T, G*H). h_0 is no parameter, so step 0 needs none.
            if t > 0 {
                let hidden_side = if self.cell == Cell::Lstm { &self.pre } else { &self.dzh };
                let dzh_t = MatRef { data: &hidden_side[t * gh..], rows: b, cols: gh, rs: t_n * gh, cs: 1 };
                matmul(&mut self.hm, dzh_t, w_hh, false);
            }
        }
        (self.dh_next, self.dc_next, self.dh) = (dh_next, dc_next, dh);
        // The recurrent weights' gradient as one product over every step: [dW_hh | db_hh] =
        // dzh^T [h~ | 1] with h~ (B*T, H) the dropped states the forward fed to W_hh, in dzh's
        // (sample, step) order.
        let hidden_side = if self.cell == Cell::Lstm { &self.pre } else { &self.dzh };
        let dzh_all = MatRef::new(hidden_side, b * t_n, gh);
        self.grad_with_bias.resize(gh * (h + 1), 0.0);
        matmul(&mut self.grad_with_bias, dzh_all.t(), MatRef::new(&self.h_dropped, b * t_n, h + 1), false);
        split_bias_column(&self.grad_with_bias, &mut self.w_hh, &mut self.b_hh);
        // Input side: [dW_ih | db_ih] = dz^T [x~ | 1], dx = (dz W_ih) * m_x.
        let dz_m = MatRef::new(&self.pre, b * t_n, g * h);
        self.grad_with_bias.resize(gh * (f + 1), 0.0);
        matmul(&mut self.grad_with_bias, dz_m.t(), MatRef::new(&self.xm, b * t_n, f + 1), false);
        split_bias_column(&self.grad_with_bias, &mut self.w_ih, &mut self.b_ih);
        if ctx.input_grad {
            self.dx.resize(x.shape());
            matmul(self.dx.data_mut(), dz_m, MatRef::new(self.w_ih.value.data(), g * h, f), false);
            if !self.mx.is_empty() {
                for (s, dxs) in self.dx.data_mut().chunks_mut(t_n * f).enumerate() {
                    let m = &self.mx[s * f..(s + 1) * f];
                    for dxt in dxs.chunks_mut(f) {
                        dxt.iter_mut().zip(m).for_each(|(d, &m)| *d *= m);
                    }
                }
            }
        }
        Ok(&self.dx)
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        f("weight_ih_l0", &mut self.w_ih);
        f("weight_hh_l0", &mut self.w_hh);
        f("bias_ih_l0", &mut self.b_ih);
        f("bias_hh_l0", &mut self.b_hh);
    }

    fn is_stochastic(&self) -> bool {
        self.p_x > 0.0 || self.p_h > 0.0
    }
}

/// A weight's gradient (rows, cols) and its bias's (rows) from their joint product (rows, cols + 1).
fn split_bias_column(joint: &[f32], weight: &mut Param, bias: &mut Param) {
    let (dw, db) = (weight.grad.data_mut(), bias.grad.data_mut());
    let cols = dw.len() / db.len().max(1);
    for ((w_row, b), joint_row) in dw.chunks_exact_mut(cols).zip(db.iter_mut()).zip(joint.chunks_exact(cols + 1)) {
        w_row.copy_from_slice(&joint_row[..cols]);
        *b = joint_row[cols];
    }
}

/// `lstm(hidden[, p_in[, p_rec[, sequences]]])` or `gru(...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct RecurrentConfig {
    pub cell: Cell,
    pub hidden: usize,
    pub options: RnnOptions,
}

impl std::fmt::Display for RecurrentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = &self.options;
        write!(f, "{}({}, {}, {}", self.cell.name(), self.hidden, o.dropout, o.recurrent_dropout)?;
        if o.sequences {
            f.write_str(", sequences")?;
        }
        f.write_str(")")
    }
}

impl LayerConfig for RecurrentConfig {
    fn kind(&self) -> &'static LayerKind {
        match self.cell {
            Cell::Lstm => &LSTM,
            Cell::Gru => &GRU,
        }
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(Recurrent::new(self.cell, self.hidden, self.options)?))
    }
    fn rates_mut(&mut self) -> Vec<&mut f64> {
        vec![&mut self.options.dropout, &mut self.options.recurrent_dropout]
    }
}

fn parse_recurrent(call: &Call, cell: Cell) -> Result<Vec<Box<dyn LayerConfig>>> {
    let name = cell.name();
    call.expect(
        1,
        4,
        &format!("{name}(hidden[, dropout[, recurrent_dropout[, sequences]]]), e.g. {name}(128, 0.25, 0.25)"),
    )?;
    let mut options = RnnOptions::default();
    for (i, extra) in call.args.iter().enumerate().skip(1) {
        match (i, *extra) {
            (_, "sequences") => options.sequences = true,
            (1, _) => options.dropout = call.prob(1)?,
            (2, _) => options.recurrent_dropout = call.prob(2)?,
            _ => return Err(call.error(format!("unexpected '{extra}'; the last argument may be 'sequences'"))),
        }
    }
    one(RecurrentConfig { cell, hidden: call.positive(0, "the hidden size")?, options })
}

/// In place of a dropout layer after a recurrent layer: that layer, as `cell`, with the rate
/// on its input and recurrent masks.
fn host_recurrent(host: &dyn LayerConfig, p: f64, cell: Cell) -> Option<Box<dyn LayerConfig>> {
    let r = downcast::<RecurrentConfig>(host)?;
    let options = RnnOptions { dropout: p, recurrent_dropout: p, ..r.options };
    Some(Box::new(RecurrentConfig { cell, hidden: r.hidden, options }))
}

pub const LSTM: LayerKind = LayerKind {
    names: &["lstm"],
    usage: "lstm(h[, p_in[, p_rec[, sequences]]])",
    example: "lstm(16, 0.2, 0.2)",
    summary: "LSTM over (B, T, F) (MNIST rows as 28 time steps) with variational dropout: input and recurrent masks drawn once per sequence and kept at every step; the last h, or every h with `sequences`",
    paper: "Gal and Ghahramani 2016, NeurIPS",
    dropout: Some(Substitute::Host(|host, p| host_recurrent(host, p, Cell::Lstm))),
    parse: |call| parse_recurrent(call, Cell::Lstm),
};

pub const GRU: LayerKind = LayerKind {
    names: &["gru"],
    usage: "gru(h[, p_in[, p_rec[, sequences]]])",
    example: "gru(16, 0.2, 0.2)",
    summary: "GRU with the same variational dropout as `lstm`",
    paper: "Gal and Ghahramani 2016, NeurIPS",
    dropout: Some(Substitute::Host(|host, p| host_recurrent(host, p, Cell::Gru))),
    parse: |call| parse_recurrent(call, Cell::Gru),
};
