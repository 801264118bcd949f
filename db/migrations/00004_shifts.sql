-- +goose Up
-- Business hours and shifts (issue 5).
-- An assignment names a shift of the same org, or none (back to business
-- hours): deleting a shift must move or drop its assignments first.
ALTER TABLE shift_assignments
    ADD CONSTRAINT shift_assignments_shift_fk FOREIGN KEY (org_id, shift_id) REFERENCES shifts (org_id, id);
CREATE INDEX shift_assignments_shift_idx ON shift_assignments (org_id, shift_id);
-- One holiday per calendar and date: the org's (shift_id null) or a shift's.
CREATE UNIQUE INDEX holidays_calendar_date_key ON holidays (org_id, coalesce(shift_id, 0), date);
-- Members by shift, for "who works this shift" and deleting a shift in use.
CREATE INDEX members_shift_idx ON members (org_id, shift_id) WHERE shift_id IS NOT NULL;

-- +goose Down
SELECT 1;
