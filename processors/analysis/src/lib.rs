//! raceway-analysis
