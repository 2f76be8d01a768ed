/** Anonymous catalogue: seasons and schools (the township guide itself: guide.ts). */
import { graphql } from '../gql'

export const CatalogueQuery = graphql(`
  query Catalogue {
    seasons { code name year stage openNow opensAt closesAt ageCutoff earliestBirth }
    schools { code name stage public townshipCode townshipName plan }
  }
`)
