//! The official MEF API files as contracts: JSON Schema validators of the request and response
//! bodies an operation declares, with references resolved within the file and to the files
//! beside it.

use serde_json::Value;
use std::sync::Arc;

/// An official MEF API file as a JSON Schema resource, to validate what `lso` sends.
pub struct Contract {
    uri: String,
    document: Arc<Value>,
}

struct DocumentRetriever(String, Arc<Value>);

impl jsonschema::Retrieve for DocumentRetriever {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let document = uri.as_str().split('#').next().unwrap_or_default();
        if document == self.0 {
            return Ok((*self.1).clone());
        }
        // Another file the document refers to (`../common/…yaml`), next to it on disk.
        let path = document.strip_prefix("file://").ok_or_else(|| format!("no document {uri}"))?;
        Ok(serde_saphyr::from_str(&std::fs::read_to_string(path)?)?)
    }
}

impl Contract {
    /// Loads `relative` (under `shared/mef`).
    pub fn load(relative: &str) -> Contract {
        Contract::from_file(&crate::shared_mef().join(relative), relative)
    }

    /// Loads the API file at `path`, naming it `name`.
    pub fn from_file(path: &std::path::Path, name: &str) -> Contract {
        let text = std::fs::read_to_string(path).unwrap();
        let document: Value = serde_saphyr::from_str(&text).unwrap();
        let absolute = std::fs::canonicalize(path).unwrap();
        let uri = match absolute.to_str() {
            Some(plain) if !plain.contains(' ') => format!("file://{plain}"),
            _ => format!("urn:test:{}", name.replace(['/', ' '], ":")),
        };
        Contract { uri, document: Arc::new(document) }
    }

    /// The contract with `names` taken out of the `required` list of component schema `schema`,
    /// where the file requires what its guide says is given only when set.
    pub fn without_required(mut self, schema: &str, names: &[&str]) -> Contract {
        let document = Arc::make_mut(&mut self.document);
        let required = document["components"]["schemas"][schema]["required"].as_array_mut().expect("a required list");
        required.retain(|name| !names.iter().any(|n| name == n));
        self
    }

    /// The API file as loaded.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// A validator of the schema at `pointer` in the document. Its references resolve against
    /// the document (and, for a file, the files next to it).
    pub fn validator(&self, pointer: &str) -> jsonschema::Validator {
        let mut root = self.document.pointer(pointer).cloned().unwrap_or_else(|| panic!("no schema at {pointer}"));
        // References within the document name it; references to other files stay relative to it.
        fn anchor(value: &mut Value, document: &str) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get_mut("$ref")
                        && target.starts_with('#')
                    {
                        *target = format!("{document}{target}");
                    }
                    map.values_mut().for_each(|v| anchor(v, document));
                }
                Value::Array(items) => items.iter_mut().for_each(|v| anchor(v, document)),
                _ => {}
            }
        }
        anchor(&mut root, &self.uri);
        let base = match self.uri.rsplit_once('/') {
            Some((dir, _)) if self.uri.starts_with("file://") => format!("{dir}/.contract-root.json"),
            _ => format!("{}:root", self.uri),
        };
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .should_validate_formats(true)
            .with_base_uri(base)
            .with_retriever(DocumentRetriever(self.uri.clone(), self.document.clone()))
            .build(&root)
            .unwrap_or_else(|e| panic!("{pointer}: {e}"))
    }

    /// A validator of the response body of `method` `path` with `status`.
    pub fn response(&self, path: &str, method: &str, status: u16) -> jsonschema::Validator {
        let token = path.replace('~', "~0").replace('/', "~1");
        let responses = &self.document["paths"][path][method]["responses"][status.to_string()]["content"];
        let media = responses
            .as_object()
            .and_then(|m| m.keys().next().cloned())
            .unwrap_or_else(|| panic!("{method} {path} {status}"));
        let media = media.replace('~', "~0").replace('/', "~1");
        self.validator(&format!("/paths/{token}/{method}/responses/{status}/content/{media}/schema"))
    }

    /// A validator of the response body of `method` `path` with `status`, in a Swagger 2.0
    /// file.
    pub fn swagger_response(&self, path: &str, method: &str, status: u16) -> jsonschema::Validator {
        let token = path.replace('~', "~0").replace('/', "~1");
        self.validator(&format!("/paths/{token}/{method}/responses/{status}/schema"))
    }

    /// A validator of the request body of `method` `path` (a listener's event, for
    /// notification APIs).
    pub fn request_body(&self, path: &str, method: &str) -> jsonschema::Validator {
        let token = path.replace('~', "~0").replace('/', "~1");
        let content = &self.document["paths"][path][method]["requestBody"]["content"];
        let media =
            content.as_object().and_then(|m| m.keys().next().cloned()).unwrap_or_else(|| panic!("{method} {path}"));
        let media = media.replace('~', "~0").replace('/', "~1");
        self.validator(&format!("/paths/{token}/{method}/requestBody/content/{media}/schema"))
    }

    /// Fails the test unless `value` is valid for `validator`.
    pub fn assert_valid(validator: &jsonschema::Validator, value: &Value, what: &str) {
        let errors: Vec<String> =
            validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{what} does not meet the MEF contract:\n{}\n{value:#}", errors.join("\n"));
    }
}
