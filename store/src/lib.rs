//! raceway-store
