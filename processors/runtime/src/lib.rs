//! raceway-processors
