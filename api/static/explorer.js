// Starts Swagger UI on /docs over the served OpenAPI document.
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#explorer", deepLinking: true,
  tryItOutEnabled: true, persistAuthorization: false});
