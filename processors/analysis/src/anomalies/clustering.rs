//! K-means over trace features with `linfa-clustering` (`GET /api/clusters`): groups of
//! similar traces, each with its size and a representative trace, and for any trace the
//! distance to its nearest centroid as a second unusualness score.
//!
//! Features are standardised first (z-scores with the training mean and deviation), so every
//! feature weighs alike in the distance. The fitted centroids are kept as plain vectors with the
//! scaler, so the model is serialisable and reloads without refitting; clusters no training
//! trace ended in are dropped. The representative of a cluster is its member nearest the
//! centroid (ties to the earlier trace).

use linfa::traits::{Fit, Predict};
use linfa::DatasetBase;
use linfa_clustering::KMeans;
use ndarray::{Array1, Array2, ArrayView1, Axis};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::ModelError;
use super::features::{feature_matrix, TraceFeatures, FEATURE_COUNT};

/// Hyperparameters of the k-means model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansConfig {
    /// Clusters sought (fewer when there are fewer traces).
    pub clusters: usize,
    /// Independent restarts; the one with the lowest inertia wins.
    pub runs: usize,
    /// Iterations per run at most.
    pub max_iterations: u64,
    /// Convergence tolerance on centroid movement.
    pub tolerance: f64,
    /// Seed of the initialisation.
    pub seed: u64,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        KMeansConfig {
            clusters: 4,
            runs: 4,
            max_iterations: 200,
            tolerance: 1e-4,
            seed: 0,
        }
    }
}

/// Per-feature standardisation: `(x - mean) / deviation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureScaler {
    /// Training mean of each feature.
    pub mean: Vec<f64>,
    /// Training standard deviation of each feature (1 where it was 0, so constants stay 0).
    pub deviation: Vec<f64>,
}

impl FeatureScaler {
    /// Learns mean and deviation of each column of `x`.
    pub fn fit(x: &Array2<f64>) -> Self {
        let n = x.nrows().max(1) as f64;
        let mean: Vec<f64> = x.columns().into_iter().map(|c| c.sum() / n).collect();
        let deviation = x
            .columns()
            .into_iter()
            .zip(&mean)
            .map(|(column, m)| {
                let variance = column.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n;
                let deviation = variance.sqrt();
                if deviation > 1e-12 {
                    deviation
                } else {
                    1.0
                }
            })
            .collect();
        FeatureScaler { mean, deviation }
    }

    /// Standardises one row.
    pub fn transform_row(&self, row: &[f64]) -> Vec<f64> {
        row.iter()
            .zip(self.mean.iter().zip(&self.deviation))
            .map(|(x, (m, d))| (x - m) / d)
            .collect()
    }

    fn transform(&self, x: &Array2<f64>) -> Array2<f64> {
        let mut z = x.clone();
        for mut row in z.rows_mut() {
            for ((value, m), d) in row.iter_mut().zip(&self.mean).zip(&self.deviation) {
                *value = (*value - m) / d;
            }
        }
        z
    }
}

/// One cluster as `GET /api/clusters` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterSummary {
    /// The cluster's number (index into the model's centroids).
    pub cluster: usize,
    /// Training traces in it.
    pub size: usize,
    /// The member nearest the centroid.
    pub representative_trace: Uuid,
    /// Mean distance of the members to the centroid (standardised units).
    pub mean_distance: f64,
    /// The centroid in feature units ([`super::features::FEATURE_NAMES`] order).
    pub centroid: Vec<f64>,
}

/// Where a trace falls.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClusterAssignment {
    /// The nearest cluster.
    pub cluster: usize,
    /// Distance to its centroid (standardised units).
    pub distance: f64,
    /// `distance` over the cluster's mean member distance: about 1 for a typical member.
    pub relative_distance: f64,
}

/// A fitted, serialisable k-means model over trace features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceClusters {
    /// The standardisation applied before distances.
    pub scaler: FeatureScaler,
    /// Centroids in standardised units, one per cluster.
    pub centroids: Vec<Vec<f64>>,
    /// The clusters, in centroid order.
    pub clusters: Vec<ClusterSummary>,
}

impl TraceClusters {
    /// Fits k-means to the features of `traces` (at least 2).
    pub fn fit(traces: &[TraceFeatures], config: &KMeansConfig) -> Result<Self, ModelError> {
        if traces.len() < 2 {
            return Err(ModelError::NotEnoughSamples {
                needed: 2,
                got: traces.len(),
            });
        }
        if config.clusters == 0 || config.runs == 0 {
            return Err(ModelError::InvalidParams(
                "clusters and runs must be at least 1".into(),
            ));
        }
        let x = feature_matrix(traces);
        if let Some(((row, feature), _)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(ModelError::NonFinite { row, feature });
        }
        let scaler = FeatureScaler::fit(&x);
        let z = scaler.transform(&x);
        let k = config.clusters.min(traces.len());
        let model = KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(config.seed))
            .n_runs(config.runs)
            .max_n_iterations(config.max_iterations)
            .tolerance(config.tolerance)
            .fit(&DatasetBase::from(z.clone()))?;
        let memberships: Array1<usize> = model.predict(&z);
        Ok(Self::summarise(
            traces,
            &scaler,
            &z,
            model.centroids(),
            &memberships,
        ))
    }

    /// Builds the summaries, keeping only clusters that hold a training trace.
    fn summarise(
        traces: &[TraceFeatures],
        scaler: &FeatureScaler,
        z: &Array2<f64>,
        centroids: &Array2<f64>,
        memberships: &Array1<usize>,
    ) -> Self {
        let mut result = TraceClusters {
            scaler: scaler.clone(),
            centroids: Vec::new(),
            clusters: Vec::new(),
        };
        for (old, centroid) in centroids.axis_iter(Axis(0)).enumerate() {
            let members: Vec<(usize, f64)> = memberships
                .iter()
                .enumerate()
                .filter(|&(_, &m)| m == old)
                .map(|(row, _)| (row, distance(z.row(row), centroid)))
                .collect();
            let Some(&(representative, _)) = members
                .iter()
                .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            else {
                continue;
            };
            let mean_distance = members.iter().map(|m| m.1).sum::<f64>() / members.len() as f64;
            let in_units = centroid
                .iter()
                .zip(scaler.mean.iter().zip(&scaler.deviation))
                .map(|(c, (m, d))| c * d + m)
                .collect();
            result.clusters.push(ClusterSummary {
                cluster: result.centroids.len(),
                size: members.len(),
                representative_trace: traces[representative].trace_id,
                mean_distance,
                centroid: in_units,
            });
            result.centroids.push(centroid.to_vec());
        }
        result
    }

    /// The nearest cluster of a trace and how far it is from it.
    pub fn assign(&self, features: &TraceFeatures) -> Result<ClusterAssignment, ModelError> {
        if self.scaler.mean.len() != FEATURE_COUNT {
            return Err(ModelError::FeatureCount {
                expected: FEATURE_COUNT,
                got: self.scaler.mean.len(),
            });
        }
        let z = self.scaler.transform_row(&features.to_vector());
        let z = ArrayView1::from(&z);
        let nearest = self
            .centroids
            .iter()
            .enumerate()
            .map(|(c, centroid)| (c, distance(z, ArrayView1::from(centroid))))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let Some((cluster, distance)) = nearest else {
            return Err(ModelError::Incompatible("the model has no clusters".into()));
        };
        let typical = self.clusters.get(cluster).map_or(0.0, |c| c.mean_distance);
        Ok(ClusterAssignment {
            cluster,
            distance,
            relative_distance: if typical > 0.0 {
                distance / typical
            } else {
                distance
            },
        })
    }
}

/// Euclidean distance; a centroid of another width counts as infinitely far.
fn distance(a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` traces of one shape: `events` events over `services` services, slightly varied.
    fn shape(n: usize, first: u128, events: u64, services: u32) -> Vec<TraceFeatures> {
        (0..n)
            .map(|i| TraceFeatures {
                trace_id: Uuid::from_u128(first + i as u128),
                duration_ns: 10_000_000 + (i as u64 % 7) * 100_000,
                events: events + i as u64 % 5,
                max_depth: 3,
                services,
                actors: services * 2,
                critical_path_share: 0.9,
                ..TraceFeatures::default()
            })
            .collect()
    }

    #[test]
    fn separates_shapes_and_names_a_member_of_each() {
        let mut traces = shape(40, 0, 20, 1);
        traces.extend(shape(30, 1_000, 2_000, 4));
        let config = KMeansConfig {
            clusters: 2,
            ..KMeansConfig::default()
        };
        let model = TraceClusters::fit(&traces, &config).unwrap();
        let mut sizes: Vec<usize> = model.clusters.iter().map(|c| c.size).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![30, 40]);
        for summary in &model.clusters {
            let member = traces
                .iter()
                .find(|t| t.trace_id == summary.representative_trace)
                .unwrap();
            let assigned = model.assign(member).unwrap();
            assert_eq!(assigned.cluster, summary.cluster);
            assert_eq!(summary.centroid.len(), FEATURE_COUNT);
        }
        let small = model.assign(&traces[0]).unwrap();
        let odd = TraceFeatures {
            errors: 50,
            ..traces[0].clone()
        };
        assert!(model.assign(&odd).unwrap().distance > small.distance);
        assert_eq!(
            TraceClusters::fit(&traces, &config).unwrap(),
            model,
            "seeded"
        );
    }

    #[test]
    fn refuses_too_little_data_and_bad_settings() {
        let one = shape(1, 0, 10, 1);
        assert!(matches!(
            TraceClusters::fit(&one, &KMeansConfig::default()),
            Err(ModelError::NotEnoughSamples { .. })
        ));
        let zero = KMeansConfig {
            clusters: 0,
            ..KMeansConfig::default()
        };
        assert!(matches!(
            TraceClusters::fit(&shape(5, 0, 10, 1), &zero),
            Err(ModelError::InvalidParams(_))
        ));
    }

    #[test]
    fn more_clusters_than_traces_and_constant_features_still_fit() {
        let traces = shape(3, 0, 10, 1);
        let model = TraceClusters::fit(&traces, &KMeansConfig::default()).unwrap();
        let total: usize = model.clusters.iter().map(|c| c.size).sum();
        assert_eq!(total, 3);
        assert!(model.assign(&traces[1]).unwrap().distance.is_finite());
    }
}
