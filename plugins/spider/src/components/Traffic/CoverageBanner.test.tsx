import { render, screen } from '@testing-library/react';
import { CoverageBanner, coverageGaps } from './CoverageBanner';
import { makeCoverage } from '../../__testUtils__/FakeSpiderApi';

describe('CoverageBanner', () => {
  it('says nothing when the capture is complete', () => {
    const { container } = render(<CoverageBanner coverage={makeCoverage()} />);
    expect(container).toBeEmptyDOMElement();
  });

  it('says with numbers what was sampled, dropped and lost', () => {
    render(
      <CoverageBanner
        coverage={makeCoverage({
          exchanges: 8000,
          sampled: 2000,
          dropped: 15,
          relayDropped: 40,
          packets: 99000,
          kernelDrops: 1000,
          expired: 300,
        })}
      />,
    );
    expect(
      screen.getByText('This capture is not complete'),
    ).toBeInTheDocument();
    expect(
      screen.getByText(/2,000 of 10,015 exchanges were sampled out/),
    ).toHaveTextContent('kept only 8,000');
    expect(
      screen.getByText(/15 exchanges were dropped in the pod/),
    ).toBeInTheDocument();
    expect(
      screen.getByText(/40 exchanges were dropped by the agent's relay/),
    ).toBeInTheDocument();
    expect(
      screen.getByText(/1,000 of 100,000 packets were dropped by the kernel/),
    ).toBeInTheDocument();
    expect(
      screen.getByText(/300 older exchanges were removed by retention/),
    ).toBeInTheDocument();
  });

  it('lists only the gaps there are', () => {
    expect(coverageGaps(makeCoverage({ kernelDrops: 5, packets: 95 }))).toEqual(
      [
        '5 of 100 packets were dropped by the kernel before capture, so some exchanges may be missing or incomplete.',
      ],
    );
  });
});
