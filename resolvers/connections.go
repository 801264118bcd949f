package resolvers

// Shaping of pages and records into each module's GraphQL types.

import (
	"context"

	"warden/access"
	"warden/graph/model"
	"warden/records"
)

// typed narrows a record to its module's type; nil stays nil.
func typed[T records.Record](rec records.Record, err error) (T, error) {
	var zero T
	if err != nil || rec == nil {
		return zero, err
	}
	t, _ := rec.(T)
	return t, nil
}

func (r *Resolver) list(ctx context.Context, m access.Module, first int, after *string, filter map[string]any, orderBy []map[string]any) (*page, error) {
	return r.listRecords(ctx, m, first, after, filter, orderBy)
}

func leadConnection(p *page, err error) (*model.LeadConnection, error) {
	if err != nil {
		return nil, err
	}
	c := &model.LeadConnection{Edges: []*model.LeadEdge{}, PageInfo: p.pageInfo(), TotalCount: p.totalCount}
	for i, n := range p.nodes {
		c.Edges = append(c.Edges, &model.LeadEdge{Cursor: p.cursors[i], Node: n.(*records.Lead)})
	}
	return c, nil
}

func contactConnection(p *page, err error) (*model.ContactConnection, error) {
	if err != nil {
		return nil, err
	}
	c := &model.ContactConnection{Edges: []*model.ContactEdge{}, PageInfo: p.pageInfo(), TotalCount: p.totalCount}
	for i, n := range p.nodes {
		c.Edges = append(c.Edges, &model.ContactEdge{Cursor: p.cursors[i], Node: n.(*records.Contact)})
	}
	return c, nil
}

func accountConnection(p *page, err error) (*model.AccountConnection, error) {
	if err != nil {
		return nil, err
	}
	c := &model.AccountConnection{Edges: []*model.AccountEdge{}, PageInfo: p.pageInfo(), TotalCount: p.totalCount}
	for i, n := range p.nodes {
		c.Edges = append(c.Edges, &model.AccountEdge{Cursor: p.cursors[i], Node: n.(*records.Account)})
	}
	return c, nil
}

func dealConnection(p *page, err error) (*model.DealConnection, error) {
	if err != nil {
		return nil, err
	}
	c := &model.DealConnection{Edges: []*model.DealEdge{}, PageInfo: p.pageInfo(), TotalCount: p.totalCount}
	for i, n := range p.nodes {
		c.Edges = append(c.Edges, &model.DealEdge{Cursor: p.cursors[i], Node: n.(*records.Deal)})
	}
	return c, nil
}

func taskConnection(p *page, err error) (*model.TaskConnection, error) {
	if err != nil {
		return nil, err
	}
	c := &model.TaskConnection{Edges: []*model.TaskEdge{}, PageInfo: p.pageInfo(), TotalCount: p.totalCount}
	for i, n := range p.nodes {
		c.Edges = append(c.Edges, &model.TaskEdge{Cursor: p.cursors[i], Node: n.(*records.Task)})
	}
	return c, nil
}
