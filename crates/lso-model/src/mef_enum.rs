//! A macro for enums whose variants have fixed MEF wire names.

/// A string that names none of an enum's MEF values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not one of {allowed}")]
pub struct UnknownValue {
    /// The rejected text.
    pub value: String,
    /// The allowed values, comma separated.
    pub allowed: String,
}

/// Declares an enum with its MEF wire names, `as_str`, `ALL` and `FromStr`.
#[macro_export]
macro_rules! mef_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Every value's MEF wire name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The MEF wire name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownValue;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::UnknownValue {
                        value: value.to_owned(),
                        allowed: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

/// Declares `on`, the pure transition function of the state enum `$state` under the events
/// `$event`: each arm maps a `(state, event)` pattern, written with `S` for the states and `E`
/// for the events, to the next state; any other pair is an [`InvalidTransition`].
///
/// [`InvalidTransition`]: crate::InvalidTransition
#[macro_export]
macro_rules! transitions {
    ($(#[$meta:meta])* $state:ident on $event:ident { $($from:pat => $to:expr),+ $(,)? }) => {
        impl $state {
            $(#[$meta])*
            pub fn on(self, event: $event) -> Result<$state, $crate::InvalidTransition> {
                use $event as E;
                use $state as S;
                match (self, event) {
                    $($from => Ok($to),)+
                    (from, event) => Err($crate::InvalidTransition { from: from.as_str(), event: event.as_str() }),
                }
            }
        }
    };
}
