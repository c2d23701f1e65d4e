//! An isolation forest (Liu, Ting and Zhou, 2008) in the linfa style: unchecked
//! [`IsolationForestParams`] guard checked [`IsolationForestValidParams`], which implement
//! linfa's `Fit` over ndarray records; the fitted [`IsolationForest`] implements
//! `PredictInplace` (and so `Predict`), giving each row an anomaly score.
//!
//! Each tree is grown on a random subsample (`sample_size` rows, without replacement) by
//! splitting on a random feature at a random threshold between that feature's minimum and
//! maximum in the node, down to a depth of log2(sample size). Outliers are isolated in few
//! splits, so the score `2^(-E[h(x)] / c(n))`, with `h` the path length (plus the expected
//! length `c` of the unbuilt subtree at the leaf), is near 1 for outliers and about 0.5 or
//! less for ordinary rows. Features that are constant in a node are never split on (the paper
//! draws any feature and wastes the split). Random choices come from one `Xoshiro256PlusPlus`
//! seeded by the parameters, so the same data and seed give the same forest.

use linfa::dataset::DatasetBase;
use linfa::param_guard::ParamGuard;
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, ArrayBase, ArrayView1, Data, Ix2};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::error::ModelError;

/// Checked hyperparameters of an isolation forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForestValidParams {
    n_trees: usize,
    sample_size: usize,
    seed: u64,
}

impl IsolationForestValidParams {
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.n_trees
    }

    /// Rows drawn for each tree (all rows when there are fewer).
    pub fn sample_size(&self) -> usize {
        self.sample_size
    }

    /// Seed of the random choices.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// Unchecked hyperparameters of an isolation forest; defaults from the paper (100 trees of 256
/// rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForestParams(IsolationForestValidParams);

impl Default for IsolationForestParams {
    fn default() -> Self {
        IsolationForestParams(IsolationForestValidParams {
            n_trees: 100,
            sample_size: 256,
            seed: 0,
        })
    }
}

impl IsolationForestParams {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the number of trees (at least 1).
    pub fn n_trees(mut self, n_trees: usize) -> Self {
        self.0.n_trees = n_trees;
        self
    }

    /// Sets the rows drawn per tree (at least 2).
    pub fn sample_size(mut self, sample_size: usize) -> Self {
        self.0.sample_size = sample_size;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
}

impl ParamGuard for IsolationForestParams {
    type Checked = IsolationForestValidParams;
    type Error = ModelError;

    fn check_ref(&self) -> Result<&Self::Checked, Self::Error> {
        if self.0.n_trees == 0 {
            Err(ModelError::InvalidParams(
                "n_trees must be at least 1".into(),
            ))
        } else if self.0.sample_size < 2 {
            Err(ModelError::InvalidParams(
                "sample_size must be at least 2".into(),
            ))
        } else {
            Ok(&self.0)
        }
    }

    fn check(self) -> Result<Self::Checked, Self::Error> {
        self.check_ref()?;
        Ok(self.0)
    }
}

/// One node of an isolation tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Node {
    /// Rows with `x[feature] < threshold` go left.
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
    /// Where `size` training rows ended.
    Leaf { size: usize },
}

/// A fitted isolation forest: serialisable, so it can be persisted and reloaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForest {
    n_features: usize,
    sample_size: usize,
    trees: Vec<Vec<Node>>,
}

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, ModelError> for IsolationForestValidParams {
    type Object = IsolationForest;

    fn fit(
        &self,
        dataset: &DatasetBase<ArrayBase<D, Ix2>, T>,
    ) -> Result<IsolationForest, ModelError> {
        let records = &dataset.records;
        let (rows, n_features) = records.dim();
        if rows < 2 {
            return Err(ModelError::NotEnoughSamples {
                needed: 2,
                got: rows,
            });
        }
        if let Some(((row, feature), _)) = records.indexed_iter().find(|(_, x)| !x.is_finite()) {
            return Err(ModelError::NonFinite { row, feature });
        }
        let sample_size = self.sample_size.min(rows);
        let height_limit = (sample_size as f64).log2().ceil() as usize;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let trees = (0..self.n_trees)
            .map(|_| {
                let rows = sample(&mut rng, rows, sample_size).into_vec();
                grow_tree(records, rows, height_limit, &mut rng)
            })
            .collect();
        Ok(IsolationForest {
            n_features,
            sample_size,
            trees,
        })
    }
}

/// Grows one tree over `rows` of `records`, iteratively.
fn grow_tree<D: Data<Elem = f64>>(
    records: &ArrayBase<D, Ix2>,
    rows: Vec<usize>,
    height_limit: usize,
    rng: &mut impl Rng,
) -> Vec<Node> {
    let mut nodes = vec![Node::Leaf { size: rows.len() }];
    let mut pending = vec![(0usize, rows, 0usize)];
    let mut splittable: Vec<(usize, f64, f64)> = Vec::new();
    while let Some((slot, rows, depth)) = pending.pop() {
        nodes[slot] = Node::Leaf { size: rows.len() };
        if depth >= height_limit || rows.len() <= 1 {
            continue;
        }
        splittable.clear();
        for (feature, column) in records.columns().into_iter().enumerate() {
            let (low, high) = rows
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &r| {
                    (l.min(column[r]), h.max(column[r]))
                });
            if low < high {
                splittable.push((feature, low, high));
            }
        }
        if splittable.is_empty() {
            continue;
        }
        let (feature, low, high) = splittable[rng.gen_range(0..splittable.len())];
        // Strictly inside (low, high] so both sides get at least one row.
        let threshold = low + (high - low) * rng.gen_range(f64::EPSILON..1.0);
        let (left_rows, right_rows): (Vec<usize>, Vec<usize>) = rows
            .iter()
            .partition(|&&r| records[[r, feature]] < threshold);
        let (left, right) = (nodes.len(), nodes.len() + 1);
        nodes.push(Node::Leaf { size: 0 });
        nodes.push(Node::Leaf { size: 0 });
        nodes[slot] = Node::Split {
            feature,
            threshold,
            left,
            right,
        };
        pending.push((left, left_rows, depth + 1));
        pending.push((right, right_rows, depth + 1));
    }
    nodes
}

/// Average path length of an unsuccessful search in a binary search tree of `n` rows: the
/// expected depth still to go below a leaf holding `n` rows.
fn average_path_length(n: usize) -> f64 {
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let m = (n - 1) as f64;
            2.0 * (m.ln() + EULER_GAMMA) - 2.0 * m / n as f64
        }
    }
}

impl IsolationForest {
    /// Number of features the forest was trained on.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Anomaly score of one row in (0, 1]: near 1 for outliers, 0.5 or less for ordinary rows.
    pub fn score(&self, row: &[f64]) -> Result<f64, ModelError> {
        if row.len() != self.n_features {
            return Err(ModelError::FeatureCount {
                expected: self.n_features,
                got: row.len(),
            });
        }
        Ok(self.score_view(ArrayView1::from(row)))
    }

    fn score_view(&self, row: ArrayView1<'_, f64>) -> f64 {
        if self.trees.is_empty() {
            return 0.5;
        }
        let total: f64 = self.trees.iter().map(|tree| path_length(tree, &row)).sum();
        let mean = total / self.trees.len() as f64;
        let normaliser = average_path_length(self.sample_size);
        if normaliser <= 0.0 {
            return 0.5;
        }
        2f64.powf(-mean / normaliser)
    }
}

/// Depth at which `row` leaves `tree`, plus the expected rest below the leaf. Stops on indices a
/// hand-edited model could get wrong instead of panicking or looping.
fn path_length(tree: &[Node], row: &ArrayView1<'_, f64>) -> f64 {
    let mut at = 0usize;
    let mut depth = 0usize;
    while let Some(node) = tree.get(at) {
        match *node {
            Node::Leaf { size } => return depth as f64 + average_path_length(size),
            Node::Split {
                feature,
                threshold,
                left,
                right,
            } => {
                let value = row.get(feature).copied().unwrap_or(f64::NAN);
                let next = if value < threshold { left } else { right };
                if next <= at {
                    break;
                }
                at = next;
                depth += 1;
            }
        }
    }
    depth as f64
}

/// Scores every row; a row of the wrong width (only possible through hand-built records) scores
/// NaN rather than panicking. Use [`IsolationForest::score`] for a checked single row.
impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for IsolationForest {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        let width_ok = x.ncols() == self.n_features;
        for (row, score) in x.rows().into_iter().zip(y.iter_mut()) {
            *score = if width_ok {
                self.score_view(row)
            } else {
                f64::NAN
            };
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}

#[cfg(test)]
#[path = "isolation_forest_tests.rs"]
mod tests;
