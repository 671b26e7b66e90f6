/** What GraphiQL opens with on the demo contract: one query that reaches all three backends. */
export const EXAMPLE_QUERY = /* GraphQL */ `# One query, three backends: payments (REST), maps (SOAP) and messaging (GraphQL).
# Press the run button, then change the fields: ask only for what you need.
query Dashboard {
  payments(first: 5) {
    edges {
      node {
        id
        amount
        currency
        status
        createdAt
        customer {
          name
          address {
            city
            location { lat lng }        # maps: geocoded address
          }
          messages(first: 2) {          # messaging
            body
            status
          }
        }
        merchant {
          name
          place { formattedAddress }    # maps
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`;

