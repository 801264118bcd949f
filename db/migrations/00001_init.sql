-- +goose Up
-- The whole Warden model. Every org-owned table carries org_id and every
-- query filters on it: the org is the tenant boundary and the natural
-- distribution key for sharding (Citus) later.

CREATE TABLE users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           text NOT NULL,
    name            text NOT NULL,
    password_hash   text,                       -- null for SSO-only identities
    sso_subject     text,
    default_org_id  bigint,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE orgs (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL,
    hierarchy_mode    text NOT NULL DEFAULT 'ROLE' CHECK (hierarchy_mode IN ('ROLE', 'REPORTING')),
    -- Incremented in the same transaction as every change that can change
    -- access; every cache key includes it.
    security_version  bigint NOT NULL DEFAULT 1,
    time_zone         text NOT NULL DEFAULT 'UTC',
    created_at        timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE users ADD CONSTRAINT users_default_org_fk FOREIGN KEY (default_org_id) REFERENCES orgs (id) ON DELETE SET NULL;

CREATE TABLE profiles (
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL,
    is_admin        boolean NOT NULL DEFAULT false,
    is_standard     boolean NOT NULL DEFAULT false,
    -- {"DEALS": ["view","create",...], ...}: a module not named has no permissions.
    module_permissions jsonb NOT NULL DEFAULT '{}',
    setup_permissions  text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id)
);
CREATE UNIQUE INDEX profiles_org_name_key ON profiles (org_id, lower(name));

CREATE TABLE roles (
    org_id            bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL,
    parent_id         bigint,
    share_with_peers  boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, parent_id) REFERENCES roles (org_id, id)
);
CREATE INDEX roles_parent_idx ON roles (org_id, parent_id);

CREATE TABLE shifts (
    org_id      bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    time_zone   text NOT NULL,
    days        jsonb NOT NULL,        -- [{"day":"MONDAY","start":"09:00","end":"17:00"}]
    breaks      jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id)
);
CREATE UNIQUE INDEX shifts_org_name_key ON shifts (org_id, lower(name));

CREATE TABLE members (
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id),
    role_id         bigint NOT NULL,
    profile_id      bigint NOT NULL,
    reports_to_id   bigint,
    shift_id        bigint,
    time_zone       text,
    status          text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id),
    UNIQUE (org_id, user_id),
    FOREIGN KEY (org_id, role_id) REFERENCES roles (org_id, id),
    FOREIGN KEY (org_id, profile_id) REFERENCES profiles (org_id, id),
    FOREIGN KEY (org_id, reports_to_id) REFERENCES members (org_id, id),
    FOREIGN KEY (org_id, shift_id) REFERENCES shifts (org_id, id)
);
CREATE INDEX members_user_idx ON members (user_id);
CREATE INDEX members_role_idx ON members (org_id, role_id);

CREATE TABLE groups (
    org_id       bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id)
);
CREATE UNIQUE INDEX groups_org_name_key ON groups (org_id, lower(name));

CREATE TABLE group_members (
    org_id          bigint NOT NULL,
    group_id        bigint NOT NULL,
    principal_type  text NOT NULL CHECK (principal_type IN ('USER', 'ROLE', 'ROLE_AND_SUBORDINATES', 'GROUP')),
    principal_id    bigint NOT NULL,
    PRIMARY KEY (org_id, group_id, principal_type, principal_id),
    FOREIGN KEY (org_id, group_id) REFERENCES groups (org_id, id) ON DELETE CASCADE
);

CREATE TABLE module_sharing (
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    module          text NOT NULL,
    default_access  text NOT NULL CHECK (default_access IN ('PRIVATE', 'PUBLIC_READ_ONLY', 'PUBLIC_READ_WRITE', 'PUBLIC_READ_WRITE_DELETE')),
    PRIMARY KEY (org_id, module)
);

CREATE TABLE sharing_rules (
    org_id             bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    module             text NOT NULL,
    name               text NOT NULL,
    source_type        text,
    source_id          bigint,
    criteria           jsonb,
    target_type        text NOT NULL,
    target_id          bigint NOT NULL,
    access             text NOT NULL CHECK (access IN ('READ_ONLY', 'READ_WRITE', 'READ_WRITE_DELETE')),
    superiors_allowed  boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id),
    CHECK ((source_type IS NULL) <> (criteria IS NULL))
);
CREATE INDEX sharing_rules_module_idx ON sharing_rules (org_id, module);

CREATE TABLE record_shares (
    org_id           bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    module           text NOT NULL,
    record_id        bigint NOT NULL,
    principal_type   text NOT NULL,
    principal_id     bigint NOT NULL,
    access           text NOT NULL CHECK (access IN ('READ_ONLY', 'READ_WRITE', 'FULL_ACCESS')),
    include_related  boolean NOT NULL DEFAULT false,
    shared_by        bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, module, record_id, principal_type, principal_id)
);
CREATE INDEX record_shares_principal_idx ON record_shares (org_id, principal_type, principal_id, module, record_id);

CREATE TABLE custom_field_definitions (
    org_id           bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    module           text NOT NULL,
    api_name         text NOT NULL,
    label            text NOT NULL,
    type             text NOT NULL,
    picklist_values  text[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id),
    UNIQUE (org_id, module, api_name)
);

CREATE TABLE field_permissions (
    org_id      bigint NOT NULL,
    profile_id  bigint NOT NULL,
    module      text NOT NULL,
    field       text NOT NULL,
    access      text NOT NULL CHECK (access IN ('READ_WRITE', 'READ_ONLY', 'HIDDEN')),
    PRIMARY KEY (org_id, profile_id, module, field),
    FOREIGN KEY (org_id, profile_id) REFERENCES profiles (org_id, id) ON DELETE CASCADE
);

CREATE TABLE business_hours (
    org_id       bigint PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    kind         text NOT NULL DEFAULT 'TWENTY_FOUR_FIVE' CHECK (kind IN ('TWENTY_FOUR_SEVEN', 'TWENTY_FOUR_FIVE', 'CUSTOM')),
    week_start   text NOT NULL DEFAULT 'MONDAY',
    time_zone    text NOT NULL DEFAULT 'UTC',
    days         jsonb NOT NULL DEFAULT '[]'
);

CREATE TABLE holidays (
    org_id     bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shift_id   bigint,                 -- null: an org holiday
    date       date NOT NULL,
    name       text NOT NULL,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, shift_id) REFERENCES shifts (org_id, id) ON DELETE CASCADE
);

CREATE TABLE shift_assignments (
    org_id          bigint NOT NULL,
    member_id       bigint NOT NULL,
    shift_id        bigint,            -- null: back to business hours
    effective_from  date NOT NULL,
    PRIMARY KEY (org_id, member_id, effective_from),
    FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
);

CREATE TABLE assignment_state (
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    principal_type  text NOT NULL,
    principal_id    bigint NOT NULL,
    last_member_id  bigint,
    turn            bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, principal_type, principal_id)
);

-- Append-only from the API: nothing updates or deletes rows here.
CREATE TABLE audit_log (
    org_id      bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    bigint,                -- member id
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   bigint,
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_org_idx ON audit_log (org_id, id DESC);

-- The change log of access-relevant writes, one row per security_version
-- step: an instance whose in-process index is behind replays it.
CREATE TABLE security_changes (
    org_id      bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    version     bigint NOT NULL,
    kind        text NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}',
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, version)
);

-- Records. One sequence for all modules: the id is the record's key in the
-- visibility index and is unique across orgs and modules.
CREATE SEQUENCE record_id_seq;

CREATE TABLE accounts (
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id              bigint PRIMARY KEY DEFAULT nextval('record_id_seq'),
    owner_id        bigint NOT NULL,
    created_by      bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    name            text NOT NULL,
    industry        text,
    website         text,
    phone           text,
    annual_revenue  numeric(18, 2),
    custom          jsonb NOT NULL DEFAULT '{}',
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, owner_id) REFERENCES members (org_id, id)
);

CREATE TABLE contacts (
    org_id               bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id                   bigint PRIMARY KEY DEFAULT nextval('record_id_seq'),
    owner_id             bigint NOT NULL,
    created_by           bigint,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    first_name           text,
    last_name            text NOT NULL,
    email                text,
    phone                text,
    account_id           bigint,
    mailing_city         text,
    bank_account_number  text,
    custom               jsonb NOT NULL DEFAULT '{}',
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, owner_id) REFERENCES members (org_id, id),
    FOREIGN KEY (org_id, account_id) REFERENCES accounts (org_id, id) ON DELETE SET NULL (account_id)
);

CREATE TABLE leads (
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id              bigint PRIMARY KEY DEFAULT nextval('record_id_seq'),
    owner_id        bigint NOT NULL,
    created_by      bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    first_name      text,
    last_name       text NOT NULL,
    company         text,
    email           text,
    phone           text,
    status          text,
    source          text,
    annual_revenue  numeric(18, 2),
    custom          jsonb NOT NULL DEFAULT '{}',
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, owner_id) REFERENCES members (org_id, id)
);

CREATE TABLE deals (
    org_id        bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id            bigint PRIMARY KEY DEFAULT nextval('record_id_seq'),
    owner_id      bigint NOT NULL,
    created_by    bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    name          text NOT NULL,
    amount        numeric(18, 2),
    stage         text,
    closing_date  date,
    probability   integer CHECK (probability BETWEEN 0 AND 100),
    account_id    bigint,
    contact_id    bigint,
    custom        jsonb NOT NULL DEFAULT '{}',
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, owner_id) REFERENCES members (org_id, id),
    FOREIGN KEY (org_id, account_id) REFERENCES accounts (org_id, id) ON DELETE SET NULL (account_id),
    FOREIGN KEY (org_id, contact_id) REFERENCES contacts (org_id, id) ON DELETE SET NULL (contact_id)
);

CREATE TABLE tasks (
    org_id              bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id                  bigint PRIMARY KEY DEFAULT nextval('record_id_seq'),
    owner_id            bigint NOT NULL,
    created_by          bigint,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    subject             text NOT NULL,
    due_at              timestamptz,
    status              text,
    priority            text,
    related_module      text,
    related_id          bigint,
    custom              jsonb NOT NULL DEFAULT '{}',
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, owner_id) REFERENCES members (org_id, id),
    CHECK ((related_module IS NULL) = (related_id IS NULL))
);

-- Indexes serving the list queries: the default order is updated_at desc, id desc.
CREATE INDEX accounts_updated_idx ON accounts (org_id, updated_at DESC, id DESC);
CREATE INDEX contacts_updated_idx ON contacts (org_id, updated_at DESC, id DESC);
CREATE INDEX leads_updated_idx    ON leads    (org_id, updated_at DESC, id DESC);
CREATE INDEX deals_updated_idx    ON deals    (org_id, updated_at DESC, id DESC);
CREATE INDEX tasks_updated_idx    ON tasks    (org_id, updated_at DESC, id DESC);
CREATE INDEX accounts_owner_idx ON accounts (org_id, owner_id, updated_at, id);
CREATE INDEX contacts_owner_idx ON contacts (org_id, owner_id, updated_at, id);
CREATE INDEX leads_owner_idx    ON leads    (org_id, owner_id, updated_at, id);
CREATE INDEX deals_owner_idx    ON deals    (org_id, owner_id, updated_at, id);
CREATE INDEX tasks_owner_idx    ON tasks    (org_id, owner_id, updated_at, id);
CREATE INDEX contacts_account_idx ON contacts (org_id, account_id);
CREATE INDEX deals_account_idx    ON deals (org_id, account_id);
CREATE INDEX deals_stage_amount_idx ON deals (org_id, stage, amount DESC, id DESC);
CREATE INDEX deals_amount_idx       ON deals (org_id, amount DESC, id DESC);
CREATE INDEX tasks_related_idx    ON tasks (org_id, related_module, related_id);

-- +goose Down
-- Forward only: migrations are never rolled back in production.
SELECT 1;
