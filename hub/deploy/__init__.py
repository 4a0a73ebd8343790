"""Deploy: one stored filter -> the configuration each Envoy-based mesh expects (DESIGN.md
"hub/deploy"; FORMATS.md section 4). Start at hub.deploy.service.DeployService.render."""
