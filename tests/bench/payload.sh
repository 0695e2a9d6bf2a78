# shellcheck shell=bash
# Sourced by tests/bench/run.sh, write-cost.sh and scaling.sh; needs their q (psql -At
# on the benchmark database) and scripts/lib.sh's fail.

# create_template ORG: the create payload for organisation ORG, @KEY@ for
# the idempotency key. Keys in the order the worker's normalised copy has
# them (src/api/incidents.c), so pgbench sends what the worker would send:
# a severity, the default type, one value of each select field, a text
# value and the lead role assigned by email.
create_template() {
    local org=$1 sev type f_single o1 f_multi o2 o3 f_text r_lead
    IFS='|' read -r sev type f_single o1 f_multi o2 o3 f_text r_lead <<<"$(q -c "
        select (select id from severities where organisation_id = '$org' order by rank desc limit 1 offset 1),
               (select id from incident_types where organisation_id = '$org' and is_default),
               f1.id, (select id from custom_field_options where custom_field_id = f1.id order by sort_key, value limit 1),
               f2.id, (select id from custom_field_options where custom_field_id = f2.id order by sort_key, value limit 1),
               (select id from custom_field_options where custom_field_id = f2.id order by sort_key, value limit 1 offset 1),
               (select id from custom_fields where organisation_id = '$org' and field_type = 'text' limit 1),
               (select id from incident_roles where organisation_id = '$org' and role_type = 'lead' and archived_at is null)
        from custom_fields f1, custom_fields f2
        where f1.organisation_id = '$org' and f1.field_type = 'single_select'
          and f2.organisation_id = '$org' and f2.field_type = 'multi_select'
        limit 1")"
    [ -n "$r_lead" ] || fail "organisation $org lacks the configuration of seed-demo" || return 1
    printf '%s' '{"idempotency_key":"@KEY@","visibility":"public","status":"investigating","name":"Checkout API returning 500s","summary":"Error rate on /checkout above 5% since the 14:00 deploy; rolling back.","severity_id":"'"$sev"'","incident_type_id":"'"$type"'","custom_field_entries":[{"custom_field_id":"'"$f_single"'","values":[{"value_option_id":"'"$o1"'"}]},{"custom_field_id":"'"$f_multi"'","values":[{"value_option_id":"'"$o2"'"},{"value_option_id":"'"$o3"'"}]},{"custom_field_id":"'"$f_text"'","values":[{"value_text":"Suspected bad config push"}]}],"incident_role_assignments":[{"incident_role_id":"'"$r_lead"'","assignee":{"email":"lisa@example.com"}}]}'
}
