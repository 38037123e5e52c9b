//! lambda-lens
