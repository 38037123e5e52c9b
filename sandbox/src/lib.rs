//! lambda-sandbox
