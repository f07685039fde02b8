import { useParams } from 'react-router-dom';
import { ContentHeader, Link } from '@backstage/core-components';
import { useSpiderPaths } from '../common';
import { ExchangeDetail } from './ExchangeDetail';

/** One exchange on its own page: the target of "link to this exchange". */
export function ExchangePage(props: { exchangeId?: string }) {
  const params = useParams();
  const id = props.exchangeId ?? params.exchangeId ?? '';
  const paths = useSpiderPaths();
  const attachments = paths.attachments();
  return (
    <>
      <ContentHeader title="Exchange">
        {attachments && <Link to={attachments}>All attachments</Link>}
      </ContentHeader>
      <ExchangeDetail exchangeId={id} headingLevel="h2" />
    </>
  );
}
