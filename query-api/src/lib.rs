//! raceway-query-api
