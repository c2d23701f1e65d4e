//! raceway-sdk
