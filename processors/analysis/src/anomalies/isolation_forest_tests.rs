use linfa::traits::Predict;
use ndarray::{array, Array2};
use rand::Rng;

use super::*;

/// 200 points around (0, 0) and three known outliers appended at rows 200..203.
fn data_with_outliers() -> Array2<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut rows: Vec<[f64; 2]> = (0..200)
        .map(|_| [rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)])
        .collect();
    rows.extend([[8.0, 8.0], [-7.0, 0.5], [0.0, -9.0]]);
    Array2::from_shape_fn((rows.len(), 2), |(r, c)| rows[r][c])
}

fn fit(x: &Array2<f64>, seed: u64) -> IsolationForest {
    IsolationForestParams::new()
        .seed(seed)
        .fit(&DatasetBase::from(x.clone()))
        .unwrap()
}

#[test]
fn known_outliers_get_the_top_scores() {
    let x = data_with_outliers();
    let forest = fit(&x, 7);
    let scores: Array1<f64> = forest.predict(&x);
    let mut ranked: Vec<usize> = (0..scores.len()).collect();
    ranked.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut top = ranked[..3].to_vec();
    top.sort_unstable();
    assert_eq!(top, vec![200, 201, 202]);
    assert!(scores[200] > 0.6);
    let mut normal: Vec<f64> = scores.iter().take(200).copied().collect();
    normal.sort_by(f64::total_cmp);
    assert!(normal[100] < 0.5, "median ordinary score {}", normal[100]);
}

#[test]
fn same_seed_same_forest_and_other_seeds_differ() {
    let x = data_with_outliers();
    assert_eq!(fit(&x, 3), fit(&x, 3));
    assert_ne!(fit(&x, 3), fit(&x, 4));
}

#[test]
fn persisted_forest_scores_the_same() {
    let x = data_with_outliers();
    let forest = fit(&x, 5);
    let json = serde_json::to_string(&forest).unwrap();
    let back: IsolationForest = serde_json::from_str(&json).unwrap();
    assert_eq!(back.predict(&x), forest.predict(&x));
    assert_eq!((back.n_trees(), back.n_features()), (100, 2));
}

#[test]
fn bad_parameters_and_data_are_refused() {
    let x = data_with_outliers();
    let dataset = DatasetBase::from(x);
    let zero_trees = IsolationForestParams::new().n_trees(0).fit(&dataset);
    assert!(matches!(zero_trees, Err(ModelError::InvalidParams(_))));
    let tiny_sample = IsolationForestParams::new().sample_size(1).fit(&dataset);
    assert!(matches!(tiny_sample, Err(ModelError::InvalidParams(_))));
    let one_row = IsolationForestParams::new().fit(&DatasetBase::from(array![[1.0, 2.0]]));
    assert!(matches!(
        one_row,
        Err(ModelError::NotEnoughSamples { needed: 2, got: 1 })
    ));
    let nan = IsolationForestParams::new().fit(&DatasetBase::from(array![[1.0], [f64::NAN]]));
    assert!(matches!(
        nan,
        Err(ModelError::NonFinite { row: 1, feature: 0 })
    ));
}

#[test]
fn rows_of_the_wrong_width_are_refused_or_nan() {
    let forest = fit(&data_with_outliers(), 1);
    assert!(matches!(
        forest.score(&[1.0]),
        Err(ModelError::FeatureCount {
            expected: 2,
            got: 1
        })
    ));
    let scores: Array1<f64> = forest.predict(&array![[1.0, 2.0, 3.0]]);
    assert!(scores[0].is_nan());
    assert!(forest.score(&[0.0, 0.0]).unwrap() < forest.score(&[9.0, 9.0]).unwrap());
}

#[test]
fn identical_rows_cannot_be_split_and_score_one_half() {
    let x = Array2::from_elem((50, 3), 4.0);
    let forest = fit(&x, 2);
    assert!((forest.score(&[4.0, 4.0, 4.0]).unwrap() - 0.5).abs() < 1e-9);
}

#[test]
fn path_length_normaliser_matches_the_paper() {
    assert_eq!(average_path_length(1), 0.0);
    assert_eq!(average_path_length(2), 1.0);
    // c(256) = 2 H(255) - 2 * 255 / 256 ~= 10.24
    assert!((average_path_length(256) - 10.24).abs() < 0.01);
}
