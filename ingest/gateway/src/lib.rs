//! raceway-gateway
