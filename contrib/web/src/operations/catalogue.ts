/** Anonymous catalogue: seasons and schools (the service guide; `serviceGuide` replaces the text when it lands). */
import { graphql } from '../gql'

export const CatalogueQuery = graphql(`
  query Catalogue {
    seasons { code name year stage openNow opensAt closesAt ageCutoff earliestBirth }
    schools { code name stage public townshipCode townshipName plan }
  }
`)
