/* GET /v1/identity: the calling key's name and roles (UtilitiesIdentityResultV1). */
#include "handlers.h"

#include <string.h>

bool incd_h_identity(struct incd_ctx *ctx)
{
	struct incd_buf *b = &ctx->resp->body;
	const char *p = ctx->who->roles;
	bool first = true;

	incd_buf_adds(b, "{\"identity\":{\"name\":");
	incd_buf_add_json_string(b, ctx->who->name);
	incd_buf_adds(b, ",\"roles\":[");
	while (*p) {
		size_t n = strcspn(p, ",");
		char role[64];
		snprintf(role, sizeof role, "%.*s", (int)n, p);
		if (!first)
			incd_buf_adds(b, ",");
		incd_buf_add_json_string(b, role);
		first = false;
		p += n;
		if (*p == ',')
			p++;
	}
	incd_buf_adds(b, "],\"dashboard_url\":");
	incd_buf_add_json_string(b, ctx->cfg->public_url);
	incd_buf_adds(b, ",\"team_roles\":[],\"teams\":[]}}");
	return true;
}
