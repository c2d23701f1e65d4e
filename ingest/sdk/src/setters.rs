//! `setters!`: the chainable setters of the SDK's configuration structs, one per public field.

/// `setters!(Config { a: A, .. } into { b: B, .. })` writes, for each field, `pub fn a(self,
/// value: A) -> Config` that sets it and returns the config; the fields listed after `into`
/// take any `impl Into<B>`. Each setter's doc links the field it sets.
macro_rules! setters {
    ($config:ident { $($field:ident: $ty:ty),* $(,)? } into { $($into:ident: $into_ty:ty),* $(,)? }) => {
        impl $config {
            $(
                #[doc = concat!("Sets [`", stringify!($config), "::", stringify!($field), "`].")]
                pub fn $field(mut self, value: $ty) -> $config {
                    self.$field = value;
                    self
                }
            )*
            $(
                #[doc = concat!("Sets [`", stringify!($config), "::", stringify!($into), "`].")]
                pub fn $into(mut self, value: impl Into<$into_ty>) -> $config {
                    self.$into = value.into();
                    self
                }
            )*
        }
    };
}

pub(crate) use setters;
