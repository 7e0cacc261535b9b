//! The attributes that turn a Rust function into a Chervil app. Use them through the
//! `chervil` crate (`#[chervil::app]`, `#[chervil::bash_app]`, `#[chervil::join_app]`);
//! its docs say what the apps do. Here is only how a function is rewritten.
//!
//! `#[chervil::app] fn add(a: i64, b: i64) -> i64 { a + b }` becomes:
//! - `fn add(a: impl IntoArg<i64>, b: impl IntoArg<i64>) -> AppFuture<i64>`, which
//!   submits a task and returns at once (each argument a value or a future);
//! - `mod add { fn with(opts: Opts, a, b) -> AppFuture<i64> }`, the same with per-call
//!   options (Parsl's `stdout=`, `walltime=`, `executors=`, …), called `add::with(…)`: a
//!   module lives in the type namespace, so it cannot collide with another function
//!   (an earlier `add_with` twin collided with an app named `add_with`);
//! - a static `AppDef` named after the app, registered with `inventory` under the
//!   function's path, whose runner decodes the arguments, calls the original body and
//!   encodes its result. A worker process — the same program started again — finds the
//!   runner by that path.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::punctuated::Punctuated;
use syn::{parse_macro_input, FnArg, GenericArgument, ItemFn, Meta, PathArguments, ReturnType, Token, Type};

/// A Python-app-like task: the body runs on a worker; arguments and result are serde types.
#[proc_macro_attribute]
pub fn app(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Plain, attr, item)
}

/// A bash app: the body returns the command line to run with `bash -c`.
#[proc_macro_attribute]
pub fn bash_app(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Bash, attr, item)
}

/// A join app: the body runs in the client and returns futures the task then waits for.
#[proc_macro_attribute]
pub fn join_app(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Join, attr, item)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Plain,
    Bash,
    Join,
}

fn expand(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let metas = parse_macro_input!(attr with Punctuated::<Meta, Token![,]>::parse_terminated);
    let func = parse_macro_input!(item as ItemFn);
    match rewrite(kind, metas, func) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn rewrite(kind: Kind, metas: Punctuated<Meta, Token![,]>, func: ItemFn) -> syn::Result<TokenStream2> {
    let mut cache = false;
    for meta in &metas {
        match meta {
            Meta::Path(p) if p.is_ident("cache") => cache = true,
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "unknown app option; the attribute takes `cache` (per-call options go through `<app>::with(Opts, …)`)",
                ))
            }
        }
    }
    let sig = &func.sig;
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(&sig.generics, "an app cannot be generic: a worker must find it by name"));
    }
    if sig.asyncness.is_some() {
        return Err(syn::Error::new_spanned(sig.fn_token, "an app cannot be async; its future is the AppFuture it returns"));
    }
    let name = &sig.ident;
    let vis = &func.vis;
    let attrs = &func.attrs;
    let def = format_ident!("__CHERVIL_APP_{}", name);

    let mut params = Vec::new();
    let mut types = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Typed(pt) => {
                let ident = match &*pt.pat {
                    syn::Pat::Ident(pi) => pi.ident.clone(),
                    other => return Err(syn::Error::new_spanned(other, "an app's arguments must be plain names")),
                };
                params.push(ident);
                types.push((*pt.ty).clone());
            }
            FnArg::Receiver(r) => return Err(syn::Error::new_spanned(r, "an app cannot take self")),
        }
    }
    let indices: Vec<usize> = (0..params.len()).collect();
    let names: Vec<String> = params.iter().map(|p| p.to_string()).collect();
    let decode = quote! {
        #( let #params: #types = ::chervil::__private::decode_arg(args, #indices, #names)?; )*
    };

    let ret: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, t) => (**t).clone(),
    };
    let body_fn = {
        let mut inner = func.clone();
        inner.attrs.clear();
        inner.vis = syn::Visibility::Inherited;
        inner.sig.ident = syn::Ident::new("__chervil_body", Span::call_site());
        inner
    };

    // Per kind: the future's value type, the runner variant, what its body function
    // returns, and how that is made from a call of the original body.
    let call = quote!(__chervil_body(#(#params),*));
    let (output, variant, returns, made) = match kind {
        Kind::Plain => match result_ok_type(&ret) {
            Some(ok) => (
                quote!(#ok),
                quote!(Value),
                quote!(::std::vec::Vec<u8>),
                quote! {
                    match #call {
                        ::std::result::Result::Ok(v) => ::chervil::__private::encode_result(&v),
                        ::std::result::Result::Err(e) => ::std::result::Result::Err(::chervil::__private::app_error(e)),
                    }
                },
            ),
            None => (quote!(#ret), quote!(Value), quote!(::std::vec::Vec<u8>), quote!(::chervil::__private::encode_result(&#call))),
        },
        Kind::Bash => (
            quote!(i32),
            quote!(Bash),
            quote!(::std::string::String),
            quote!(::std::result::Result::Ok(::std::string::ToString::to_string(&#call))),
        ),
        Kind::Join => (
            quote!(<#ret as ::chervil::__private::IntoJoined>::Output),
            quote!(Join),
            quote!(::chervil::__private::Joined),
            quote!(::std::result::Result::Ok(::chervil::__private::IntoJoined::into_joined(#call))),
        ),
    };
    let runner = quote! {
        ::chervil::__private::Runner::#variant({
            fn __run(args: &[&[u8]]) -> ::std::result::Result<#returns, ::chervil::Error> {
                #body_fn
                #decode
                #made
            }
            __run
        })
    };

    let arg_types: Vec<TokenStream2> = types.iter().map(|t| quote!(impl ::chervil::IntoArg<#t>)).collect();
    let doc_mod = format!("Per-call options for [`{name}`](fn@{name}): `{name}::with(opts, …)`, a name no other function can take.");
    let doc_with = format!("[`{name}`] with per-call options (`stdout`, `stderr`, `walltime`, `executors`, `inputs`, `outputs`, `cache`).");
    Ok(quote! {
        #(#attrs)*
        #vis fn #name(#(#params: #arg_types),*) -> ::chervil::AppFuture<#output> {
            #name::with(::chervil::Opts::default(), #(#params),*)
        }

        #[doc = #doc_mod]
        #[allow(non_snake_case)]
        #vis mod #name {
            #[allow(unused_imports)]
            use super::*;
            #[doc = #doc_with]
            pub fn with(opts: ::chervil::Opts, #(#params: #arg_types),*) -> ::chervil::AppFuture<#output> {
                ::chervil::__private::submit(&super::#def, opts, ::std::vec![#(::chervil::IntoArg::into_arg(#params).erase()),*])
            }
        }

        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        #vis static #def: ::chervil::__private::AppDef = ::chervil::__private::AppDef {
            name: ::std::concat!(::std::module_path!(), "::", ::std::stringify!(#name)),
            cache: #cache,
            runner: #runner,
        };

        ::chervil::__private::inventory::submit! { ::chervil::__private::Registered(&#def) }
    })
}

/// `T` when `ty` is spelled `…Result<T, …>` (any path ending in `Result`).
fn result_ok_type(ty: &Type) -> Option<Type> {
    let Type::Path(tp) = ty else { return None };
    let last = tp.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}
