use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Quartz performer registry", description = "Which function serves which (AVS, operator set), at which release, version and digest."),
    paths(
        crate::routes::list_performers,
        crate::routes::get_performer,
        crate::routes::put_performer,
        crate::routes::delete_performer,
        crate::routes::release_history,
        crate::routes::healthz,
        crate::routes::metrics,
    ),
    modifiers(&BearerAuth),
)]
pub struct RegistryApi;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(RegistryApi::openapi())
}
