import { expect } from "vitest";
import { execute } from "./graphql.js";

/** GraphQL helpers for the outbound tests, each failing loudly when the API answers with an error. */
export function outboundApi(headers: Record<string, string>) {
  async function run<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const result = await execute<T>(query, variables, headers);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    return result.data as T;
  }
  return {
    run,
    async createEndpoint(input: Record<string, unknown>): Promise<{ id: string; secret: string }> {
      const data = await run<{
        createEndpoint: { __typename: string; secret: string; endpoint: { id: string }; message?: string };
      }>(
        `mutation ($input: CreateEndpointInput!) { createEndpoint(input: $input) {
          __typename ... on CreatedEndpoint { secret endpoint { id } } ... on Error { message field } } }`,
        { input: { name: `endpoint-${Math.random().toString(36).slice(2, 8)}`, ...input } },
      );
      expect(data.createEndpoint.__typename, data.createEndpoint.message).toBe("CreatedEndpoint");
      return { id: data.createEndpoint.endpoint.id, secret: data.createEndpoint.secret };
    },
    async publish(input: Record<string, unknown>) {
      const data = await run<{
        publishEvent: {
          __typename: string;
          event: { id: string; messageId: string };
          deliveryCount: number;
          duplicate: boolean;
          message?: string;
          field?: string;
        };
      }>(
        `mutation ($input: PublishEventInput!) { publishEvent(input: $input) {
          __typename ... on PublishedEvent { deliveryCount duplicate event { id messageId } } ... on Error { message field } } }`,
        { input },
      );
      return data.publishEvent;
    },
  };
}
